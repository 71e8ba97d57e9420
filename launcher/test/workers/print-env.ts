// Prints the worker contract as one JSON line ("ENV {...}"), then exits 0.
// The token itself is never printed: only its length and a short sha256, which the test compares.
import { createHash } from 'node:crypto';

if (process.env.RANK === undefined) process.exit(0); // run directly (node --test runs every file)
const names = [
  'RANK',
  'LOCAL_RANK',
  'WORLD_SIZE',
  'LOCAL_WORLD_SIZE',
  'NODE_RANK',
  'GROUP_RANK',
  'MASTER_ADDR',
  'MASTER_PORT',
  'YOLO_LAUNCH_RUN_ID',
  'RESTART_COUNT',
  'CUDA_VISIBLE_DEVICES',
  'TF_FORCE_GPU_ALLOW_GROWTH',
  'YOLO_LAUNCH_THREADS',
  'OMP_NUM_THREADS',
  'TF_NUM_INTRAOP_THREADS',
  'MALLOC_MMAP_THRESHOLD_',
  'MALLOC_TRIM_THRESHOLD_',
  'YOLO_FORWARDED_PROBE',
];
const env: Record<string, string | number | undefined> = {};
for (const n of names) env[n] = process.env[n];
const token = process.env.YOLO_LAUNCH_TOKEN ?? '';
env.tokenLength = token.length;
env.tokenSha = createHash('sha256').update(token).digest('hex').slice(0, 16);
env.cwd = process.cwd();
env.pid = process.pid;
process.stdout.write(`ENV ${JSON.stringify(env)}\n`);
