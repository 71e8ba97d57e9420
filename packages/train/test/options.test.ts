import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DATA, UsageError, defaultOptions, parseTrainArgs, validateStatic } from '../src/options.js';

test('defaults are YOLOv5 parse_opt defaults', () => {
  const o = defaultOptions();
  assert.equal(o.epochs, 100);
  assert.equal(o.batch_size, 16);
  assert.equal(o.imgsz, 640);
  assert.equal(o.resume, false);
  assert.equal(o.evolve, undefined);
  assert.equal(o.cache, undefined);
  assert.equal(o.optimizer, 'SGD');
  assert.equal(o.workers, 8);
  assert.equal(o.project, 'runs/train');
  assert.equal(o.name, 'exp');
  assert.equal(o.label_smoothing, 0);
  assert.equal(o.patience, 100);
  assert.deepEqual(o.freeze, [0]);
  assert.equal(o.save_period, -1);
  assert.equal(o.seed, 0);
  assert.equal(o.hyp, 'hyp.scratch-low.yaml');
  assert.equal(o.data, DEFAULT_DATA);
});

test('aliases, optional values, lists and = syntax', () => {
  const { options: o } = parseTrainArgs([
    '--img',
    '320',
    '--resume',
    '--evolve',
    '--cache',
    '--freeze',
    '0',
    '1',
    '2',
    '--batch-size=32',
    '--cos-lr',
    '--sync-bn',
  ]);
  assert.equal(o.imgsz, 320);
  assert.equal(o.resume, true);
  assert.equal(o.evolve, 300);
  assert.equal(o.cache, 'ram');
  assert.deepEqual(o.freeze, [0, 1, 2]);
  assert.equal(o.batch_size, 32);
  assert.equal(o.cos_lr, true);
  assert.equal(o.sync_bn, true);
  const b = parseTrainArgs([
    '--img-size',
    '128',
    '--resume',
    'runs/train/exp/weights/last.pt',
    '--evolve',
    '10',
    '--cache',
    'disk',
    '--imgsz',
    '64',
  ]).options;
  assert.equal(b.imgsz, 64);
  assert.equal(b.resume, 'runs/train/exp/weights/last.pt');
  assert.equal(b.evolve, 10);
  assert.equal(b.cache, 'disk');
  assert.equal(parseTrainArgs(['--batch_size', '8']).options.batch_size, 8);
  assert.equal(parseTrainArgs(['--epo', '3']).options.epochs, 3, 'unique prefix abbreviation');
  assert.equal(parseTrainArgs(['--weights', '']).options.weights, '');
});

test('bad arguments are UsageErrors with exit code 2', () => {
  for (const argv of [
    ['--optimizer', 'RMSProp'],
    ['--epochs', 'ten'],
    ['--no-such-option'],
    ['--cache', 'gpu'],
    ['--epochs'],
    ['positional'],
  ]) {
    assert.throws(
      () => parseTrainArgs(argv),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2,
      argv.join(' '),
    );
  }
});

test('static validation: world size, integrations, impossible values', () => {
  const ok = parseTrainArgs(['--cfg', 'yolov5n.yaml', '--batch-size', '16']).options;
  validateStatic(ok, 2);
  assert.throws(
    () => validateStatic(parseTrainArgs(['--cfg', 'x.yaml', '--batch-size', '15']).options, 2),
    /multiple of WORLD_SIZE=2/,
  );
  assert.throws(() => validateStatic(parseTrainArgs(['--cfg', 'x.yaml', '--bucket', 'gs://b']).options, 1), /--bucket/);
  assert.throws(() => validateStatic(parseTrainArgs(['--cfg', 'x.yaml', '--entity', 'me']).options, 1), /W&B/);
  validateStatic(parseTrainArgs(['--cfg', 'x.yaml', '--batch-size', '-1']).options, 2); // AutoBatch, any world size
  assert.throws(
    () => validateStatic(parseTrainArgs(['--cfg', 'x.yaml', '--batch-size', '-2']).options, 1),
    /must be >= 1, or -1 for AutoBatch/,
  );
  assert.equal(parseTrainArgs(['--notensorboard']).options.notensorboard, true);
  assert.equal(parseTrainArgs([]).options.notensorboard, false);
  validateStatic(parseTrainArgs([]).options, 1); // no --cfg/--weights: yolov5s.yaml from scratch
});

test('--grad-compression: none by default, fp16 / bf16 accepted, anything else refused by name', () => {
  assert.equal(defaultOptions().grad_compression, 'none');
  assert.equal(parseTrainArgs(['--grad-compression', 'bf16']).options.grad_compression, 'bf16');
  assert.equal(parseTrainArgs(['--grad-compression', 'fp16']).options.grad_compression, 'fp16');
  assert.throws(() => parseTrainArgs(['--grad-compression', 'fp8']), /grad-compression|grad_compression|fp8/);
});

test("--distill: YOLOv6's flag names (and snake_case), defaults, and the combinations refused", () => {
  const o = parseTrainArgs([
    '--distill',
    '--teacher_model_path',
    't.pt',
    '--distill_feat',
    '--temperature',
    '10',
  ]).options;
  assert.equal(o.distill, true);
  assert.equal(o.teacher_model_path, 't.pt');
  assert.equal(o.distill_feat, true);
  assert.equal(o.temperature, 10);
  const d = defaultOptions();
  assert.deepEqual([d.distill, d.teacher_model_path, d.temperature, d.distill_feat], [false, '', 20, false]);
  validateStatic(o, 1);
  const refused = (argv: string[], pattern: RegExp) =>
    assert.throws(
      () => validateStatic(parseTrainArgs(argv).options, 1),
      (e: Error) => e instanceof UsageError && pattern.test(e.message),
    );
  refused(['--distill'], /--distill needs --teacher-model-path/);
  refused(['--teacher-model-path', 't.pt'], /used only with --distill/);
  refused(['--distill-feat'], /used only with --distill/);
  refused(['--distill', '--teacher-model-path', 't.pt', '--temperature', '0'], /--temperature must be > 0/);
});
