/**
 * Model YAML handling beyond the fixtures: refused rows name the layer, the shipped l/x YAMLs
 * and a v5.0-style YAML (Focus, SPP) give upstream's parameter counts, state dicts round-trip
 * in PyTorch layout, Focus' space-to-depth follows PyTorch's slicing order.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend, tf } from '@yolo-launch/backend';
import {
  checkImgSize,
  createModel,
  hwioToOihw,
  roundHalfEven,
  ModelConfigError,
  modelYamlPath,
  readModelYaml,
  spaceToDepth,
  type ModelYaml,
  type YamlRow,
} from '../src/index.js';
import { assertClose, testBackend } from './helpers.js';
import { tinyYaml } from './tiny.js';
import { focusSppYaml } from './model-yamls.js';

before(async () => {
  await initBackend({ backend: testBackend });
});

function withRow(i: number, row: unknown): ModelYaml {
  const y = tinyYaml(2);
  const rows = [...y.backbone, ...y.head];
  rows[i] = row as YamlRow;
  return { ...y, backbone: rows.slice(0, y.backbone.length), head: rows.slice(y.backbone.length) };
}

test('bad rows are refused with the layer number and what to fix', () => {
  const cases: [ModelYaml, RegExp][] = [
    [withRow(3, [-1, 1, 'C2f', [16]]), /layer 3 \(backbone row 3\): unknown module "C2f"; supported: Conv/],
    [withRow(8, [[-1, 12], 1, 'Concat', [1]]), /layer 8 \(head row 1\): 'from' \[-1,12\] must point to earlier layers/],
    [withRow(1, [-1, 1, 'Conv', ['wide', 3, 2]]), /layer 1 .*output channels/],
    [withRow(1, [-1, 0, 'Conv', [16, 3, 2]]), /layer 1 .*'number' must be a positive integer/],
    [withRow(1, [-1, 1, 'Conv']), /layer 1 .*expected \[from, number, module, args\]/],
    [withRow(7, [-1, 1, 'nn.Upsample', ['None', 2, 'bilinear']]), /layer 7 .*mode "bilinear" is not supported/],
    [withRow(8, [[-1, 4], 1, 'Concat', [2]]), /layer 8 .*Concat is only supported along dim 1/],
    [withRow(2, [-1, 1, 'Detect', ['nc', 'anchors']]), /layer 2 .*Detect must be the last layer|exactly one Detect/],
    [withRow(1, [-1, 1, 'Conv', [16, 3, 2, null, 2]]), /layer 1 .*grouped convolutions/],
  ];
  for (const [cfg, re] of cases)
    assert.throws(
      () => createModel(cfg),
      (e: Error) => e instanceof ModelConfigError && re.test(e.message),
      `expected ${re}`,
    );
  assert.throws(
    () =>
      createModel({
        ...tinyYaml(2),
        anchors: [
          [10, 13, 16],
          [1, 2],
        ],
      }),
    /anchors row 0/,
  );
  const { backbone: _b, ...noBackbone } = tinyYaml(2);
  void _b;
  assert.throws(() => readModelYaml(noBackbone as ModelYaml), /missing key 'backbone'/);
  const dir = mkdtempSync(path.join(tmpdir(), 'yolo-yaml-'));
  try {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'nc: 80\nbackbone: [[-1, 1, Conv\n');
    assert.throws(() => readModelYaml(bad), /not valid YAML/);
    assert.throws(() => readModelYaml(path.join(dir, 'missing.yaml')), /cannot read model YAML/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shipped yolov5l/x and a v5.0 Focus+SPP YAML have upstream parameter counts; nc and anchors overrides apply', () => {
  // upstream model summaries (nc=80): yolov5l 46,563,709; yolov5x 86,749,405; v5.0 yolov5s 7,276,605
  for (const [name, count] of [
    ['yolov5l', 46563709],
    ['yolov5x', 86749405],
  ] as const) {
    const m = createModel(modelYamlPath(name)!);
    assert.equal(m.numParameters(), count, name);
    m.dispose();
  }
  const v50 = focusSppYaml({
    nc: 80,
    depth_multiple: 0.33,
    width_multiple: 0.5,
    stages: [
      [128, 3, 'C3'],
      [256, 9, 'C3'],
      [512, 9, 'C3'],
    ],
    top: 1024,
    pan: true,
  });
  const m = createModel(v50);
  assert.equal(m.numParameters(), 7276605, 'v5.0 yolov5s');
  const pred = tf.tidy(() => m.forwardEval(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D).pred.shape);
  assert.deepEqual(pred, [1, 3 * (64 + 16 + 4), 85]);
  m.dispose();
  // reversed anchors are put back in order (check_anchor_order), nc override changes Detect
  const rev = createModel(tinyYaml(2), {
    nc: 5,
    anchors: [
      [116, 90, 156, 198, 373, 326],
      [30, 61, 62, 45, 59, 119],
      [10, 13, 16, 30, 33, 23],
    ],
  });
  assert.equal(rev.no, 10);
  assertClose(
    rev.anchorsPixels,
    [10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326],
    { abs: 1e-5 },
    'anchor order',
  );
  rev.dispose();
});

test('state dict: PyTorch layout out, round trip into another model, shape errors are clear', () => {
  const a = createModel(tinyYaml(2), { seed: 1 });
  const b = createModel(tinyYaml(2), { seed: 2 });
  const sd = a.stateDict();
  const w = a.parameters().find((p) => p.name === 'model.1.conv.weight')!;
  assert.deepEqual(sd['model.1.conv.weight']!.shape, [16, 8, 3, 3]);
  assert.deepEqual(w.variable.shape, [3, 3, 8, 16], 'stored HWIO');
  assert.deepEqual(
    Array.from(sd['model.1.conv.weight']!.data),
    Array.from(hwioToOihw(w.variable.dataSync(), [16, 8, 3, 3])),
  );
  b.loadStateDict(sd);
  const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const [pa, pb] = tf.tidy(() => [a.forwardEval(x).pred.dataSync(), b.forwardEval(x).pred.dataSync()]);
  assert.deepEqual(Array.from(pb!), Array.from(pa!));
  const broken = { ...sd, 'model.1.conv.weight': { shape: [16, 8, 1, 1], data: new Float32Array(128) } };
  assert.throws(() => b.loadStateDict(broken), /model\.1\.conv\.weight has shape \[16,8,1,1\].*needs \[16,8,3,3\]/);
  const { ['model.0.bn.bias']: _gone, ...missing } = sd;
  void _gone;
  assert.throws(() => b.loadStateDict(missing), /missing keys \[model\.0\.bn\.bias\]/);
  b.loadStateDict(missing, { strict: false });
  x.dispose();
  a.dispose();
  b.dispose();
});

test("Focus space-to-depth equals PyTorch's slicing order", () => {
  const [N, H, W, C] = [2, 4, 6, 3];
  const x = tf.tensor4d(
    Float32Array.from({ length: N * H * W * C }, (_, i) => i),
    [N, H, W, C],
  );
  const y = spaceToDepth(x).dataSync();
  const xd = x.dataSync();
  // cat(x[::2, ::2], x[1::2, ::2], x[::2, 1::2], x[1::2, 1::2]) in (h, w)
  const offs = [
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ];
  for (let n = 0; n < N; n++)
    for (let i = 0; i < H / 2; i++)
      for (let j = 0; j < W / 2; j++)
        for (let k = 0; k < 4; k++)
          for (let c = 0; c < C; c++) {
            const [dh, dw] = offs[k]!;
            assert.equal(
              y[((n * (H / 2) + i) * (W / 2) + j) * 4 * C + k * C + c],
              xd[((n * H + 2 * i + dh!) * W + 2 * j + dw!) * C + c],
            );
          }
  x.dispose();
});

test('forward refuses inputs that are not NHWC with the right channels or not a multiple of the stride', () => {
  const m = createModel(tinyYaml(2));
  assert.throws(() => tf.tidy(() => m.forwardEval(tf.zeros([1, 3, 64, 64]) as tf.Tensor4D)), /NHWC \[bs, H, W, 3\]/);
  assert.throws(
    () => tf.tidy(() => m.forwardTrain(tf.zeros([1, 70, 64, 3]) as tf.Tensor4D)),
    /multiple of the max stride 32/,
  );
  m.dispose();
});

test('check_img_size and Python rounding helpers', () => {
  assert.equal(checkImgSize(640, 32), 640);
  assert.equal(checkImgSize(650, 32), 672);
  assert.equal(checkImgSize(100, 64, 128), 128);
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});
