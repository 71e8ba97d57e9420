import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint, stripOptimizer, type Checkpoint } from '../src/checkpoint.js';

export function sampleCheckpoint(epoch: number, n = 1000): Checkpoint {
  const w = new Float32Array(n).map((_, i) => Math.sin(i + epoch));
  return {
    meta: {
      epoch, best_fitness: 0.5, updates: 10 * epoch, optimizer: { name: 'SGD', step: epoch }, opt: { epochs: 3 }, hyp: { lr0: 0.01 },
      model_yaml: { nc: 3 }, names: ['a', 'b', 'c'], nc: 3, best_epoch: 0, maps: [0, 0, 0], date: new Date(0).toISOString(),
    },
    model: [{ name: 'model.0.conv.weight', shape: [n], data: w }, { name: 'model.0.bn.num_batches_tracked', shape: [1], data: Int32Array.from([epoch]) }],
    ema: [{ name: 'model.0.conv.weight', shape: [n], data: w.map((x) => x * 0.5) }],
    optimizer: [{ name: 'model.0.conv.weight/momentum_buffer', shape: [n], data: w.map((x) => x * 0.1) }],
  };
}

test('checkpoint round-trips exactly and detects corruption', () => {
  const c = sampleCheckpoint(3, 1001);
  const buf = encodeCheckpoint(c);
  const d = decodeCheckpoint(buf);
  assert.deepEqual(d.meta, c.meta);
  assert.deepEqual(d.model[0]!.data, c.model[0]!.data);
  assert.deepEqual(d.model[1]!.data, c.model[1]!.data);
  assert.deepEqual(d.ema![0]!.data, c.ema![0]!.data);
  assert.deepEqual(d.optimizer![0]!.data, c.optimizer![0]!.data);
  const bad = Buffer.from(buf);
  bad[200] = bad[200]! ^ 1;
  assert.throws(() => decodeCheckpoint(bad), CheckpointError);
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
    saveCheckpoint(file, sampleCheckpoint(0, 1000));
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
        await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      }
      const c = loadCheckpoint(file);
      assert.ok(c.meta.epoch >= 0);
      assert.equal(c.model[0]!.data.length, c.meta.epoch === 0 ? 1000 : 4_000_000);
      assert.equal(c.model[0]!.data[5], Math.fround(Math.sin(5 + c.meta.epoch)));
    }
    // Stale temporaries from the killed writers are cleaned by the next save.
    saveCheckpoint(file, sampleCheckpoint(9, 10));
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['last.pt']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
