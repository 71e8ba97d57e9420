// Prints the worker contract as one JSON line: the env-contract tests parse it.
// The token is reported only as a hash-free fingerprint (length) so it never reaches a log.
const names = [
  'RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'NODE_RANK', 'GROUP_RANK',
  'MASTER_ADDR', 'MASTER_PORT', 'YOLO_LAUNCH_RUN_ID', 'RESTART_COUNT', 'CUDA_VISIBLE_DEVICES',
  'TF_FORCE_GPU_ALLOW_GROWTH', 'YOLO_LAUNCH_THREADS', 'OMP_NUM_THREADS', 'TF_NUM_INTRAOP_THREADS',
];
const env: Record<string, string | undefined> = {};
for (const n of names) env[n] = process.env[n];
const token = process.env.YOLO_LAUNCH_TOKEN ?? '';
process.stdout.write(`ENV ${JSON.stringify({ ...env, tokenLength: token.length, tokenHead: token.slice(0, 6), pid: process.pid, ppid: process.ppid })}\n`);
