import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  stripOptimizer,
} from '../src/checkpoint.js';
import { encodeYlckpt } from '../src/checkpoint-ylckpt.js';
import { sampleCheckpoint } from './helpers/sample-checkpoint.js';

test('checkpoint round-trips exactly and detects corruption', async () => {
  const c = await sampleCheckpoint(3, 1001);
  const buf = encodeCheckpoint(c);
  const d = decodeCheckpoint(buf);
  assert.deepEqual(d.meta, c.meta);
  assert.deepEqual(d.model[0]!.data, c.model[0]!.data);
  for (let k = 0; k < c.model.length; k++) assert.deepEqual(d.model[k], c.model[k], c.model[k]!.name);
  assert.deepEqual(d.ema![0]!.data, c.ema![0]!.data);
  assert.deepEqual(d.optimizer![0]!.data, c.optimizer![0]!.data);
  const bad = Buffer.from(buf);
  bad[200] = bad[200]! ^ 1;
  assert.throws(
    () => decodeCheckpoint(bad, 'bad.pt'),
    (err: unknown) => err instanceof CheckpointError && /^bad\.pt is corrupt or truncated: .*CRC-32/.test(err.message),
  );
  assert.throws(() => decodeCheckpoint(buf.subarray(0, buf.length - 100)), /corrupt or truncated/);
  const s = stripOptimizer(d);
  assert.equal(s.meta.epoch, -1);
  assert.equal(s.optimizer, null);
  assert.equal(s.ema, null);
  assert.deepEqual(s.model[0]!.data, c.ema![0]!.data);
  const meta = JSON.stringify(d.meta);
  assert.ok(!/rank|world/i.test(meta), 'no rank or world size inside');
});

test('a kill during a checkpoint write leaves the previous last.pt loadable', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-kill-'));
  try {
    const file = path.join(dir, 'weights', 'last.pt');
    saveCheckpoint(file, await sampleCheckpoint(0, 1000));
    const writer = fileURLToPath(new URL('./workers/checkpoint-writer.js', import.meta.url));
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, [writer, file], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        // Wait until the writer says it is writing, then kill it at a moment inside the writes.
        await new Promise<void>((resolve, reject) => {
          child.stdout.once('data', () => resolve());
          child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
        });
        await new Promise((r) => setTimeout(r, 20 + round * 37));
      } finally {
        child.kill('SIGKILL');
        await new Promise((r) =>
          child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
        );
      }
      const c = loadCheckpoint(file);
      assert.ok(c.meta.epoch >= 0);
      assert.equal(c.optimizer![0]!.data.length, c.meta.epoch === 0 ? 1000 : 4_000_000);
      assert.equal(c.model[0]!.data[5], Math.fround(Math.sin(5 + c.meta.epoch)));
    }
    // Stale temporaries from the killed writers are cleaned by the next save.
    saveCheckpoint(file, await sampleCheckpoint(9, 10));
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['last.pt']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('files of the previous YLCKPT format still load', async () => {
  const c = await sampleCheckpoint(2, 50);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-old-'));
  try {
    const file = path.join(dir, 'last.pt');
    fs.writeFileSync(file, encodeYlckpt(c));
    const d = loadCheckpoint(file);
    assert.deepEqual(d.meta, c.meta);
    assert.deepEqual(d.model, c.model);
    assert.deepEqual(d.optimizer, c.optimizer);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
