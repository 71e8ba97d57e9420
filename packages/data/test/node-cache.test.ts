/** --cache ram with two local ranks: one copy per node, built by local rank 0, read by rank 1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers.js';
import {
  ensureSyntheticDataset,
  loadSplit,
  createDataLoader,
  sweepStaleNodeCaches,
  resizedSize,
} from '../src/index.js';

interface RankReport {
  digest: string;
  ramCache: { bytes: number; nodeFile: string | null; builtHere: boolean } | null;
  log: string[];
}

function startRank(
  yamlFile: string,
  cacheDir: string,
  localRank: number,
  runId: string,
): { child: ChildProcessWithoutNullStreams; report: Promise<RankReport> } {
  const script = fileURLToPath(new URL('./workers/node-cache-rank.js', import.meta.url));
  const child = spawn(process.execPath, [script, yamlFile, cacheDir], {
    env: { ...process.env, LOCAL_RANK: String(localRank), LOCAL_WORLD_SIZE: '2', YOLO_LAUNCH_RUN_ID: runId },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const report = new Promise<RankReport>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as RankReport);
    });
    child.on('exit', (code) => reject(new Error(`rank ${localRank} exited with ${code} before reporting: ${err}`)));
  });
  return { child, report };
}

test('two local ranks: local rank 0 builds one cache file, rank 1 reads it; same batches as without cache; removed at close', async () => {
  const root = tmpDir('node-cache');
  const cacheDir = path.join(root, 'shm');
  fs.mkdirSync(cacheDir);
  const ranks: ChildProcessWithoutNullStreams[] = [];
  try {
    const yamlFile = await ensureSyntheticDataset(path.join(root, 'syn'), {
      seed: 2,
      nTrain: 12,
      nVal: 4,
      imgSize: 96,
    });
    const { dataset } = await loadSplit(yamlFile, 'train', { writeCache: false });
    const ref = await createDataLoader({ dataset, batchSize: 4, imgsz: 96, augment: true, workers: 0, seed: 7 });
    const digest = crypto.createHash('sha256');
    for await (const b of ref.epoch([...Array(dataset.imFiles.length).keys()], 0)) {
      digest.update(b.images);
      digest.update(new Uint8Array(b.targets.buffer, b.targets.byteOffset, b.targets.byteLength));
    }
    await ref.close();

    const runId = `t${process.pid}`;
    const r1 = startRank(yamlFile, cacheDir, 1, runId); // the reader first: it must wait for rank 0
    const r0 = startRank(yamlFile, cacheDir, 0, runId);
    ranks.push(r0.child, r1.child);
    const [rep0, rep1] = await Promise.all([r0.report, r1.report]);

    const files = fs.readdirSync(cacheDir);
    assert.equal(files.length, 1, `one cache file on the node, got ${files.join(', ')}`);
    const expectedBytes = dataset.shapes.reduce((s, [w, h]) => s + resizedSize(w, h, 96).reduce((a, b) => a * b, 3), 0);
    assert.ok(fs.statSync(path.join(cacheDir, files[0]!)).size >= expectedBytes);
    assert.equal(rep0.ramCache?.builtHere, true);
    assert.equal(rep1.ramCache?.builtHere, false, 'rank 1 read rank 0 copy');
    assert.equal(rep0.ramCache?.nodeFile, path.join(cacheDir, files[0]!));
    assert.equal(rep1.ramCache?.nodeFile, rep0.ramCache?.nodeFile);
    assert.equal(rep0.ramCache?.bytes, expectedBytes);
    assert.match(rep0.log.join('\n'), /Caching images \(0\.0GB ram, one copy for 2 local ranks/);
    assert.match(rep1.log.join('\n'), /reading local rank 0's copy/);
    const want = digest.digest('hex');
    assert.equal(rep0.digest, want, 'rank 0 batches = uncached batches');
    assert.equal(rep1.digest, want, 'rank 1 batches = uncached batches');

    const exits = ranks.map((c) => new Promise((resolve) => c.on('exit', resolve)));
    for (const c of ranks) c.stdin.end();
    await Promise.all(exits);
    assert.deepEqual(fs.readdirSync(cacheDir), [], 'the builder removes the cache at close');
  } finally {
    for (const c of ranks) if (c.exitCode === null) c.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a cache left by a dead process is swept; a live one is kept', () => {
  const dir = tmpDir('node-cache-sweep');
  try {
    const dead = path.join(dir, 'yolo-launch-imgcache-x-0123.bin.999999999.tmp');
    const live = path.join(dir, `yolo-launch-imgcache-x-4567.bin.${process.pid}.tmp`);
    const other = path.join(dir, 'unrelated.bin');
    for (const f of [dead, live, other]) fs.writeFileSync(f, 'x');
    sweepStaleNodeCaches(dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(live), 'unrelated.bin'].sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
