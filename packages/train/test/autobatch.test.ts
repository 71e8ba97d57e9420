import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, initBackend } from '@yolo-launch/backend';
import { chooseBatchSize, fitLine, probeFits, DEFAULT_BATCH, type MemorySample } from '../src/autobatch/fit.js';
import { autobatch, usingLine, type AutoBatchProbe } from '../src/autobatch/profile.js';
import { agreeOnBatchSize, type ObjectGroup } from '../src/autobatch/ddp.js';
import {
  cpuMemory,
  gpuMemory,
  parseGpuLine,
  parseMeminfo,
  parseProcessGpuBytes,
  wasmMemory,
  GIB,
  WASM_HEAP_LIMIT,
  type DeviceMemory,
} from '../src/autobatch/memory.js';
import { createTrainStepProbe } from '../src/autobatch/probe.js';
import { parseByteSize, readEnvSwitch } from '../src/train-env.js';
import { loadHyp } from '../src/config.js';
import { HYP_DIR } from '../src/paths.js';
import * as yolo from '@yolo-launch/yolo';
import { PACKAGE_ROOT } from './helpers/fixtures.js';

// Memory curves recorded with the trainer's probe (bench/autobatch-curves.ts), and what
// NumPy computes from them with YOLOv5's formulas (np.polyfit, int((f·fraction − p1) / p0)).
interface Curve {
  backend: string;
  cfg: string;
  imgsz: number;
  backward: string;
  samples: MemorySample[];
  numpy: { slope: number; intercept: number; batches: { availableBytes: number; fraction: number; batch: number }[] };
}
const CURVES: Curve[] = (
  JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'test', 'fixtures', 'autobatch-curves.json'), 'utf8')) as {
    curves: Curve[];
  }
).curves;
const label = (c: Curve): string => `${c.backend} ${c.cfg} ${c.imgsz}px ${c.backward}`;

test('recorded curves: the line fit equals np.polyfit, and memory is linear in the batch', () => {
  assert.ok(CURVES.length >= 3);
  for (const curve of CURVES) {
    const ok = curve.samples.filter((s) => s.bytes !== null) as { batch: number; bytes: number }[];
    const fit = fitLine(
      ok.map((s) => s.batch),
      ok.map((s) => s.bytes),
    );
    assert.ok(Math.abs(fit.slope - curve.numpy.slope) <= 1e-9 * Math.abs(curve.numpy.slope), label(curve));
    assert.ok(Math.abs(fit.intercept - curve.numpy.intercept) <= 1e-6 * Math.abs(curve.numpy.slope), label(curve));
    // Why a line: the residuals are small next to the range (R² of the fit).
    const mean = ok.reduce((s, p) => s + p.bytes, 0) / ok.length;
    const ssRes = ok.reduce((s, p) => s + (p.bytes - (fit.intercept + fit.slope * p.batch)) ** 2, 0);
    const ssTot = ok.reduce((s, p) => s + (p.bytes - mean) ** 2, 0);
    assert.ok(1 - ssRes / ssTot > 0.99, `${label(curve)}: R² ${1 - ssRes / ssTot}`);
    for (let i = 1; i < ok.length; i++)
      assert.ok(ok[i]!.bytes > ok[i - 1]!.bytes, `${label(curve)}: memory grows with the batch`);
  }
});

test('recorded curves: the chosen batch equals YOLOv5 formula computed by NumPy', () => {
  for (const curve of CURVES) {
    for (const want of curve.numpy.batches) {
      const got = chooseBatchSize({
        samples: curve.samples,
        availableBytes: want.availableBytes,
        fraction: want.fraction,
      });
      assert.equal(got.batch, want.batch, `${label(curve)} at ${want.availableBytes / GIB} GiB × ${want.fraction}`);
      if (got.fallback === null) assert.ok(got.predictedBytes <= want.availableBytes * want.fraction);
    }
  }
});

test("YOLOv5's guards: not past a failed size, 1..1024, at least two points", () => {
  const line = (batches: number[], fail: number[] = []): MemorySample[] =>
    batches.map((b) => ({ batch: b, bytes: fail.includes(b) ? null : 100e6 + 50e6 * b }));
  // fits 40 by the line, but 8 failed: the last size that worked
  assert.equal(
    chooseBatchSize({ samples: line([1, 2, 4, 8, 16], [8, 16]), availableBytes: (100e6 + 50e6 * 40) / 0.6 }).batch,
    4,
  );
  assert.equal(
    chooseBatchSize({ samples: line([1, 2, 4, 8, 16]), availableBytes: (100e6 + 50e6 * 40) / 0.6 }).batch,
    40,
  );
  const tooSmall = chooseBatchSize({ samples: line([1, 2, 4]), availableBytes: 100e6 });
  assert.equal(tooSmall.batch, DEFAULT_BATCH);
  assert.match(tooSmall.fallback!, /below 1: the budget 0.06G does not hold/);
  const flat = chooseBatchSize({ samples: [1, 2, 4].map((b) => ({ batch: b, bytes: 5e8 })), availableBytes: 4 * GIB });
  assert.equal(flat.batch, DEFAULT_BATCH);
  assert.match(flat.fallback!, /did not grow with the batch size; using default batch-size 16/);
  assert.equal(chooseBatchSize({ samples: line([1, 2], [2]), availableBytes: 4 * GIB, defaultBatch: 8 }).batch, 8);
  assert.equal(probeFits(line([1, 2, 4]), 8, 100e6 + 50e6 * 8), true);
  assert.equal(probeFits(line([1, 2, 4]), 16, 100e6 + 50e6 * 8), false);
});

test('memory per backend: wasm heap, GPU less other processes, CPU RSS plus a share of free RAM', () => {
  const mem = parseMeminfo('MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   16777216 kB\n');
  assert.deepEqual(mem, { totalBytes: 24576000 * 1024, availableBytes: 16 * GIB });
  const wasm = wasmMemory({ heapBytes: 0.5 * GIB, mem, localWorldSize: 2 });
  assert.equal(wasm.availableBytes, WASM_HEAP_LIMIT, '0.5 + 16/2 GiB of RAM: the heap limit binds');
  assert.equal(wasmMemory({ heapBytes: 0.5 * GIB, mem, localWorldSize: 8 }).availableBytes, 2.5 * GIB, 'RAM binds');
  const cpu = cpuMemory({ rssBytes: 1 * GIB, tensorBytes: 0.25 * GIB, mem, localWorldSize: 2 });
  assert.deepEqual([cpu.availableBytes, cpu.fixedBytes], [9 * GIB, 0.75 * GIB]);
  // recorded nvidia-smi output (one H200, another process holding 10 GiB)
  const gpu = parseGpuLine('0, NVIDIA H200, 143771, 12288');
  assert.deepEqual([gpu.index, gpu.name, gpu.totalBytes], ['0', 'NVIDIA H200', 143771 * 2 ** 20]);
  const own = parseProcessGpuBytes('4100, 10240\n4242, 2048\n', 4242);
  assert.equal(own, 2 * GIB);
  const dev = gpuMemory({ gpu, ownBytes: own, tensorBytes: 1 * GIB });
  assert.equal(dev.name, 'CUDA:0 (NVIDIA H200)');
  assert.equal(dev.availableBytes, 143771 * 2 ** 20 - 10 * GIB);
  assert.equal(dev.fixedBytes, 1 * GIB);
  assert.throws(() => parseGpuLine('No devices were found'), /unexpected nvidia-smi line/);
  assert.match(
    usingLine({ batch: 24, predictedBytes: 60 * GIB }, dev),
    /^AutoBatch: Using batch-size 24 for CUDA:0 \(NVIDIA H200\) 70\.00G\/140\.40G \(50%\) ✅$/,
  );
});

/** A probe whose step holds `perImage` bytes per image on top of `base` (real tfjs tensors). */
function tensorProbe(perImage: number, base: number, failAt = Infinity): AutoBatchProbe {
  const hold = (bytes: number): void => tf.dispose(tf.tidy(() => tf.fill([bytes / 4], 0)));
  return {
    forward: (batch) => hold(base + (perImage * batch) / 2),
    forwardBackward: (batch) => {
      if (batch >= failAt) throw new Error(`out of memory at ${batch}`);
      hold(base + perImage * batch);
    },
  };
}

test('autobatch() measures with tf.profile and prints YOLOv5 lines', async () => {
  await initBackend({ backend: 'cpu' });
  const device: DeviceMemory = {
    name: 'test device',
    totalBytes: 1e8,
    availableBytes: 1e8,
    ownBytes: 0,
    fixedBytes: 0,
  };
  const lines: string[] = [];
  const warnings: string[] = [];
  const io = { print: (l: string) => lines.push(l), warn: (l: string) => warnings.push(l) };
  const result = await autobatch(tensorProbe(0.8e6, 4e6), { imgsz: 64, device, params: 123, ...io });
  // peak = base + 0.8 MB per image (+ what was alive before, here nothing): (0.6e8 − 4e6) / 0.8e6 = 70
  assert.equal(result.batch, 70);
  assert.deepEqual(
    result.rows.map((r) => r.bytes),
    [4.8e6, 5.6e6, 7.2e6, 10.4e6, 16.8e6],
  );
  assert.equal(lines[0], 'AutoBatch: Computing optimal batch size for --imgsz 64');
  assert.equal(lines.at(-1), 'AutoBatch: Using batch-size 70 for test device 0.06G/0.09G (60%) ✅');
  assert.match(lines.join('\n'), /\(16, 3, 64, 64\)/);
  assert.deepEqual(warnings, []);

  const failing = await autobatch(tensorProbe(0.8e6, 4e6, 8), { imgsz: 64, device, params: 123, ...io });
  assert.equal(failing.batch, 4, 'the last size that ran');
  assert.match(warnings.join('\n'), /batch-size 8 failed: out of memory at 8/);
  assert.equal(failing.rows.at(-1)!.error, 'predicted not to fit, not run');

  const small: DeviceMemory = { ...device, availableBytes: 10e6, totalBytes: 10e6 };
  const skipped = await autobatch(tensorProbe(0.8e6, 4e6), { imgsz: 64, device: small, params: 123, ...io });
  assert.deepEqual(
    skipped.rows.map((r) => r.bytes !== null),
    [true, true, true, false, false],
    'sizes past the device are not run',
  );
  assert.equal(skipped.batch, 2, 'int((0.6·10e6 − 4e6) / 0.8e6)');
  assert.equal(tf.memory().numTensors, 0, 'no tensor left behind');
});

/** Two ranks of an in-memory group (allGather and broadcast through shared promises). */
function pairGroup(): [ObjectGroup, ObjectGroup] {
  let gather: Promise<unknown[]> | null = null;
  let resolveGather: ((v: unknown[]) => void) | null = null;
  const gathered: unknown[] = [];
  let bcast: Promise<unknown> | null = null;
  let resolveBcast: ((v: unknown) => void) | null = null;
  const make = (rank: number): ObjectGroup => ({
    rank,
    worldSize: 2,
    async allGatherObject<T>(value: T): Promise<T[]> {
      gather ??= new Promise((r) => (resolveGather = r));
      gathered[rank] = value;
      if (gathered.filter((v) => v !== undefined).length === 2) resolveGather!([...gathered]);
      return (await gather) as T[];
    },
    async broadcastObject<T>(value: T, root: number): Promise<T> {
      bcast ??= new Promise((r) => (resolveBcast = r));
      if (rank === root) resolveBcast!(structuredClone(value));
      return (await bcast) as T;
    },
  });
  return [make(0), make(1)];
}

test('under DDP the smallest per-rank batch wins on every rank; total = per-rank × world', async () => {
  const [r0, r1] = pairGroup();
  const [a, b] = await Promise.all([agreeOnBatchSize(r0, 24), agreeOnBatchSize(r1, 19)]);
  assert.deepEqual(a, { perRank: 19, total: 38, measured: [24, 19] });
  assert.deepEqual(b, a);
  const [r0b] = pairGroup();
  await assert.rejects(agreeOnBatchSize(r0b, 0), /positive integer/);
});

test("the trainer's probe: real steps on a separate model, memory grows with the batch, nothing left behind", async () => {
  await initBackend({ backend: 'wasm' });
  const before = tf.memory().numTensors;
  const hyp = loadHyp(path.join(HYP_DIR, 'hyp.scratch-low.yaml')) as unknown as yolo.LossHyp;
  const probe = createTrainStepProbe({
    modelYaml: yolo.readModelYaml(yolo.modelYamlPath('yolov5n')!),
    nc: 3,
    lossHyp: hyp,
    imgsz: 64,
    recompute: false,
  });
  const device: DeviceMemory = {
    name: 'wasm heap',
    totalBytes: WASM_HEAP_LIMIT,
    availableBytes: WASM_HEAP_LIMIT,
    ownBytes: 0,
    fixedBytes: 0,
  };
  const result = await autobatch(probe, {
    imgsz: 64,
    device,
    params: probe.params,
    sizes: [1, 2],
    print: () => {},
    warn: (l) => assert.fail(l),
  });
  probe.dispose();
  const bytes = result.rows.map((r) => r.bytes!);
  assert.ok(bytes[0]! < bytes[1]!, `memory grows: ${bytes}`);
  assert.ok(result.fit!.slope > 0 && result.batch >= 1);
  assert.equal(tf.memory().numTensors, before, 'the probe model and every step tensor are disposed');
});

test('YOLO_AUTOBATCH_MEMORY and YOLO_AUTOBATCH_FRACTION are read strictly', () => {
  assert.equal(parseByteSize('2G', 'X'), 2 * GIB);
  assert.equal(parseByteSize('512M', 'X'), 512 * 2 ** 20);
  assert.equal(parseByteSize('1.5GiB', 'X'), 1.5 * GIB);
  assert.equal(parseByteSize('1000', 'X'), 1000);
  assert.throws(
    () => parseByteSize('lots', 'YOLO_AUTOBATCH_MEMORY'),
    /YOLO_AUTOBATCH_MEMORY="lots" is not a size; use e.g. 2G/,
  );
  assert.equal(readEnvSwitch('autobatchFraction', {}), 0.6);
  assert.equal(readEnvSwitch('autobatchFraction', { YOLO_AUTOBATCH_FRACTION: '0.8' }), 0.8);
  assert.throws(
    () => readEnvSwitch('autobatchFraction', { YOLO_AUTOBATCH_FRACTION: '60' }),
    /must be a number in \(0, 1\]/,
  );
});
