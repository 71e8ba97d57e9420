/**
 * Writing .pt files and reading them back: round trip (fp32 extras bit-identical, fp16 model
 * equal to the rounded weights), the zip layout torch expects (64-byte aligned stored records,
 * valid CRCs), the DetectionModel tree, fp16 rounding, strided/shared storages, and every
 * bad-input error naming the file.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend } from '@yolo-launch/backend';
import { createModel, planModel, type StateDict } from '../src/index.js';
import {
  PtError,
  PyObject,
  PyTuple,
  detectionModelObject,
  planStrides,
  readPtFile,
  TorchStorage,
  TorchTensor,
  encodeYolov5Checkpoint,
  float32Tensors,
  fromHalfBits,
  intersectDicts,
  loadStrict,
  modelFromCheckpoint,
  readPt,
  toHalfBits,
  writePtArchive,
  type PtCheckpoint,
} from '../src/pt/index.js';
import { tensorValues } from '../src/pt/tensor-data.js';
import { tinyYaml } from './tiny.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

function tinyCheckpoint(nc = 2, seed = 1): { bytes: Buffer; sd: StateDict; names: string[] } {
  const model = createModel(tinyYaml(nc), { seed });
  const sd = model.stateDict();
  const names = Array.from({ length: nc }, (_, k) => `class${k}`);
  const bytes = encodeYolov5Checkpoint({
    yaml: model.yaml,
    yamlFile: 'tiny.yaml',
    names,
    stride: model.stride,
    model: sd,
    ema: sd,
    epoch: 4,
    bestFitness: 0.25,
    updates: 17,
    opt: { epochs: 10, imgsz: 64, hyp: { lr0: 0.01 } },
    hyp: { lr0: 0.01 },
    git: null,
    date: '2026-12-02T10:00:00',
    extra: new Map([['yolo_launch_model', float32Tensors(sd)]]),
    archiveName: 'tiny',
  });
  model.dispose();
  return { bytes, sd, names };
}

const rounded = (data: Float32Array): number[] => Array.from(data, (v) => fromHalfBits(toHalfBits(v)));

test('round trip: extras bit-identical, fp16 model equals the rounded weights, metadata kept', () => {
  const { bytes, sd, names } = tinyCheckpoint();
  const ckpt = readPt(bytes, 'tiny.pt');
  assert.equal(ckpt.kind, 'yolov5-checkpoint');
  assert.equal(ckpt.epoch, 4);
  assert.equal(ckpt.bestFitness, 0.25);
  assert.equal(ckpt.updates, 17);
  assert.deepEqual(ckpt.opt, { epochs: 10, imgsz: 64, hyp: { lr0: 0.01 } });
  assert.deepEqual(ckpt.model!.names, names);
  assert.equal(ckpt.model!.className, 'models.yolo.DetectionModel');
  assert.deepEqual(Object.keys(ckpt.model!.stateDict), Object.keys(sd), 'module walk gives state_dict order');
  for (const [name, t] of Object.entries(sd)) {
    const got = ckpt.ema!.stateDict[name]!;
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.dtype, name.endsWith('num_batches_tracked') ? 'int64' : 'float16', name);
    assert.deepEqual(
      Array.from(got.data),
      name.endsWith('num_batches_tracked') ? Array.from(t.data) : rounded(t.data),
      name,
    );
  }
  const extra = ckpt.top.get('yolo_launch_model') as Map<string, TorchTensor>;
  for (const [name, t] of Object.entries(sd)) {
    const back = ckpt.archive.values(extra.get(name)!, name);
    assert.deepEqual(
      new Uint8Array(back.buffer, back.byteOffset, back.byteLength),
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      `${name} bit-identical`,
    );
  }
  // The same weights rebuild our model from the file's own yaml.
  const model = modelFromCheckpoint(ckpt);
  assert.deepEqual(model.stride, [8, 16, 32]);
  model.dispose();
});

test('the DetectionModel tree has the attributes YOLOv5 reads', () => {
  const ckpt = readPt(tinyCheckpoint().bytes, 'tiny.pt');
  const root = ckpt.top.get('model') as PyObject;
  const attrs = root.attrs;
  assert.deepEqual(attrs.get('save'), [3, 4, 6, 9]);
  assert.equal(attrs.get('yaml_file'), 'tiny.yaml');
  assert.equal(attrs.get('training'), true);
  assert.equal((ckpt.top.get('ema') as PyObject).attrs.get('training'), false);
  const layers = (attrs.get('_modules') as Map<string, PyObject>).get('model')!.attrs.get('_modules') as Map<
    string,
    PyObject
  >;
  const summary = [...layers.values()].map((layer) => [
    layer.className,
    layer.attrs.get('i'),
    layer.attrs.get('f'),
    layer.attrs.get('type'),
  ]);
  assert.deepEqual(summary[8], ['models.common.Concat', 8, [-1, 4], 'models.common.Concat']);
  assert.deepEqual(summary[10], ['models.yolo.Detect', 10, [3, 9, 6], 'models.yolo.Detect']);
  const tiny = createModel(tinyYaml(2), { seed: 0 });
  assert.deepEqual(planStrides(planModel(tiny.yaml).plan), tiny.stride, 'strides from the plan = the dry run');
  tiny.dispose();
  const detect = layers.get('10')!.attrs;
  assert.deepEqual([detect.get('nc'), detect.get('no'), detect.get('nl'), detect.get('na')], [2, 7, 3, 3]);
  const conv = (layers.get('0')!.attrs.get('_modules') as Map<string, PyObject>).get('conv')!.attrs;
  assert.deepEqual((conv.get('padding') as PyTuple).items, [2, 2]);
  assert.equal((conv.get('_parameters') as Map<string, unknown>).get('bias'), null);
});

test('zip layout: stored records at 64-byte aligned offsets, version record, archive folder', () => {
  const bytes = tinyCheckpoint().bytes;
  let records = 0;
  for (let at = 0; bytes.readUInt32LE(at) === 0x04034b50; records++) {
    const nameLength = bytes.readUInt16LE(at + 26);
    const extraLength = bytes.readUInt16LE(at + 28);
    const name = bytes.subarray(at + 30, at + 30 + nameLength).toString();
    const dataStart = at + 30 + nameLength + extraLength;
    assert.equal(dataStart % 64, 0, `${name} data at ${dataStart}`);
    assert.equal(bytes.readUInt16LE(at + 8), 0, 'stored');
    assert.ok(name.startsWith('tiny/'), name);
    if (name === 'tiny/version') assert.equal(bytes.subarray(dataStart, dataStart + 2).toString(), '3\n');
    at = dataStart + bytes.readUInt32LE(at + 18);
  }
  assert.ok(records > 10);
});

test('fp16: every half value survives float -> half, ties round to even, overflow is inf', () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    if ((bits & 0x7c00) === 0x7c00 && bits & 0x3ff) continue; // NaNs
    assert.equal(toHalfBits(fromHalfBits(bits)), bits, `bits 0x${bits.toString(16)}`);
  }
  assert.equal(toHalfBits(1 + 2 ** -11), toHalfBits(1)); // tie -> even (down)
  assert.equal(toHalfBits(1 + 3 * 2 ** -11), toHalfBits(1 + 2 ** -9)); // tie -> even (up)
  assert.equal(fromHalfBits(toHalfBits(70000)), Infinity);
  assert.equal(fromHalfBits(toHalfBits(2 ** -25)), 0); // half of the smallest subnormal rounds to even 0
  assert.equal(fromHalfBits(toHalfBits(3 * 2 ** -26)), 2 ** -24);
});

test('tensor views: offsets, strides (transposed), shared storage, and views outside the storage', () => {
  const storage = new TorchStorage('0', 'float32', 6);
  const bytes = new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer);
  const transposed = new TorchTensor(storage, 0, [3, 2], [1, 3], false);
  assert.deepEqual(Array.from(tensorValues(transposed, bytes, 't')), [0, 3, 1, 4, 2, 5]);
  const tail = new TorchTensor(storage, 4, [2], [1], false);
  assert.deepEqual(Array.from(tensorValues(tail, bytes, 'tail')), [4, 5]);
  const outside = new TorchTensor(storage, 4, [3], [1], false);
  assert.throws(
    () => tensorValues(outside, bytes, 'model.0.conv.weight'),
    /model\.0\.conv\.weight: .* needs storage element 6, storage 0 holds 6/,
  );
  const int64 = new TorchStorage('1', 'int64', 2);
  const longs = new Uint8Array(BigInt64Array.from([7n, -3n]).buffer);
  assert.deepEqual(Array.from(tensorValues(new TorchTensor(int64, 0, [2], [1], false), longs, 'n')), [7, -3]);
  const bools = new TorchStorage('2', 'bool', 3);
  assert.deepEqual(
    Array.from(tensorValues(new TorchTensor(bools, 0, [3], [1], false), Uint8Array.from([1, 0, 1]), 'b')),
    [1, 0, 1],
  );
});

function expectPtError(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof PtError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

test('bad input: not a checkpoint, legacy, truncated, corrupted, empty', () => {
  const good = tinyCheckpoint().bytes;
  expectPtError(
    () => readPt(Buffer.from('nc: 80\nnames: [a]\n'), 'data.yaml'),
    'NOT_A_CHECKPOINT',
    /^data\.yaml: is not a PyTorch checkpoint/,
  );
  expectPtError(() => readPt(Buffer.alloc(0), 'empty.pt'), 'NOT_A_CHECKPOINT', /empty\.pt: is empty/);
  const legacy = Buffer.from([
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
  ]);
  expectPtError(() => readPt(legacy, 'old.pt'), 'LEGACY_FORMAT', /old\.pt: written by PyTorch < 1\.6/);
  expectPtError(
    () => readPt(good.subarray(0, Math.floor(good.length * 0.7)), 'cut.pt'),
    'TRUNCATED',
    /cut\.pt: .*truncated/,
  );
  const corrupted = Buffer.from(good);
  corrupted[200] = corrupted[200]! ^ 0xff;
  expectPtError(
    () => readPt(corrupted, 'flip.pt'),
    'CORRUPT',
    /flip\.pt: zip record tiny\/data\.pkl fails its CRC-32 check/,
  );
});

test('bad input: a class outside the table is never run and is refused by name', () => {
  // The top-level object is a call of posix.system: the reader records it, runs nothing.
  const evil = new PyObject('posix.system', false, ['touch /tmp/pwned']);
  expectPtError(
    () => readPt(writePtArchive(evil, 'evil'), 'evil.pt'),
    'UNKNOWN_CLASS',
    /evil\.pt: .*posix\.system.*nothing was executed/,
  );
  // A module of the tree replaced by an unknown class.
  const model = createModel(tinyYaml(2), { seed: 1 });
  const root = detectionModelObject(model.yaml, model.stateDict(), {
    training: false,
    requiresGrad: false,
    names: ['a', 'b'],
    stride: model.stride,
  });
  model.dispose();
  const layers = (root.attrs.get('_modules') as Map<string, PyObject>).get('model')!.attrs.get('_modules') as Map<
    string,
    PyObject
  >;
  const intruder = new PyObject('mypackage.layers.FancyConv', false);
  intruder.state = new Map();
  layers.set('3', intruder);
  const rewritten = writePtArchive(
    new Map([
      ['model', root],
      ['ema', null],
    ]),
    'x',
  );
  expectPtError(
    () => readPt(rewritten, 'custom.pt'),
    'UNKNOWN_CLASS',
    /custom\.pt: 'model' module model\.3 is a mypackage\.layers\.FancyConv/,
  );
});

test('bad input: weights whose shapes do not fit the model', () => {
  const ckpt: PtCheckpoint = readPt(tinyCheckpoint(2).bytes, 'nc2.pt');
  const other = createModel(tinyYaml(5), { seed: 0 });
  try {
    expectPtError(
      () => loadStrict(other, ckpt.ema!.stateDict, 'nc2.pt'),
      'SHAPE_MISMATCH',
      /nc2\.pt: does not fit the model: 6 entries differ in shape.*model\.10\.m\.0\.weight: \[21,16,1,1\] vs \[30,16,1,1\]/,
    );
  } finally {
    other.dispose();
  }
});

test('intersect_dicts: same name and shape, excluded substrings dropped', () => {
  const ckpt = readPt(tinyCheckpoint(2).bytes, 'nc2.pt');
  const target = createModel(tinyYaml(5), { seed: 0 });
  const all = target.stateDict();
  const kept = intersectDicts(ckpt.ema!.stateDict, all, ['anchor']);
  const total = Object.keys(all).length;
  // Detect convs (3 weights + 3 biases) change shape with nc; anchors are excluded.
  assert.equal(Object.keys(kept.stateDict).length, total - 7);
  assert.equal(kept.skipped.length, 6);
  assert.ok(!('model.10.anchors' in kept.stateDict));
  target.dispose();
});

test('a file on disk: errors name its path', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pt-'));
  try {
    const file = path.join(dir, 'weights.pt');
    writeFileSync(file, 'not weights');
    expectPtError(() => readPtFile(file), 'NOT_A_CHECKPOINT', /weights\.pt: is not a PyTorch checkpoint/);
    expectPtError(
      () => readPtFile(path.join(dir, 'missing.pt')),
      'NOT_A_CHECKPOINT',
      /missing\.pt: cannot be read \(ENOENT\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
