/**
 * `yolo-launch export` end to end (the launcher's bin, a real process): files beside the
 * weights as export.py names them, loadable, and bad input refused with exit 2 before anything
 * is written.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import { initBackend } from '@yolo-launch/backend';
import { parseExportArgs } from '../src/index.js';
import { repoRoot, saveTestCheckpoint, testModel } from './helpers.js';

const bin = path.join(repoRoot, 'launcher/bin/yolo-launch.js');

function exportCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, 'export', ...args, '--backend', 'wasm'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('yolo-launch export', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-export-cli-'));
  const weights = path.join(dir, 'best.pt');
  before(async () => {
    await initBackend({ backend: 'wasm' });
    const model = testModel('yolov5n', 2);
    saveTestCheckpoint(weights, model, ['cat', "dog's"]);
    model.dispose();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--include onnx tfjs writes best.onnx and best_web_model/ beside the weights', async () => {
    const r = exportCli(['--weights', weights, '--include', 'onnx', 'tfjs', '--imgsz', '100']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /--img-size 100 100 must be multiple of max stride 32, updating to 128 128/);
    assert.match(r.stdout, /output shape \(1, 1008, 7\)/);
    assert.deepEqual(readdirSync(dir).sort(), ['best.onnx', 'best.pt', 'best_web_model']);
    assert.ok(readdirSync(path.join(dir, 'best_web_model')).includes('model.json'));
    const session = await ort.InferenceSession.create(path.join(dir, 'best.onnx'));
    const out = await session.run({
      images: new ort.Tensor('float32', new Float32Array(3 * 128 * 128).fill(0.5), [1, 3, 128, 128]),
    });
    assert.deepEqual(out.output0!.dims, [1, 1008, 7]);
    const modelJson = JSON.parse(readFileSync(path.join(dir, 'best_web_model', 'model.json'), 'utf8'));
    assert.deepEqual(modelJson.userDefinedMetadata, { stride: 32, names: ['cat', "dog's"], imgsz: [128, 128] });
  });

  test('a second export replaces the files whole; no temporary files are left', () => {
    const r = exportCli(['--weights', weights, '--include', 'tfjs', '--imgsz', '64', '--batch-size', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['best.onnx', 'best.pt', 'best_web_model']);
    const modelJson = JSON.parse(readFileSync(path.join(dir, 'best_web_model', 'model.json'), 'utf8'));
    assert.deepEqual(
      modelJson.signature.inputs.x.tensorShape.dim.map((d: { size: string }) => Number(d.size)),
      [2, 64, 64, 3],
    );
  });

  // Two refusals through the real process (exit code, nothing written); the rest in-process below.
  const refusals: [string, string[], RegExp][] = [
    ['missing weights', ['--weights', path.join(os.tmpdir(), 'no-such-dir', 'best.pt')], /does not exist/],
    [
      'unsupported --include',
      ['--weights', weights, '--include', 'onnx', 'torchscript'],
      /torchscript.*not supported here; supported: onnx, tfjs/,
    ],
  ];
  for (const [what, args, message] of refusals) {
    test(`refused with exit 2, nothing written: ${what}`, () => {
      const before = readdirSync(dir).sort();
      const r = exportCli(args);
      assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(dir).sort(), before);
    });
  }

  test('export.py flags we cannot honour are refused by name before any work', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--weights is required/],
      [['--weights', weights, '--include', 'onx'], /unknown format onx; supported: onnx, tfjs/],
      [['--weights', weights, '--half'], /--half.*GPU/],
      [['--weights', weights, '--opset', '9'], /--opset 9: this export writes opsets 11 to 17/],
      [['--weights', weights, '--nms'], /--nms/],
      [['--weights', weights, '--device', '0'], /CPU only/],
      [['--weights', weights, '--imgsz', '640', '480', '320'], /--imgsz 640 480 320/],
      [['--weights', weights, '--frobnicate'], /Unknown argument/],
    ];
    for (const [args, message] of cases) await assert.rejects(parseExportArgs(args), message, args.join(' '));
    assert.deepEqual(await parseExportArgs(['--weights', weights, '--include', 'tfjs,onnx', '--img', '320']), {
      weights,
      include: ['tfjs', 'onnx'],
      imgsz: [320, 320],
      batchSize: 1,
      dynamic: false,
      opset: 12,
      backend: 'auto',
    });
  });

  test('a corrupt checkpoint is refused with exit 2', () => {
    const bad = path.join(dir, 'broken', 'best.pt');
    rmSync(path.dirname(bad), { recursive: true, force: true });
    spawnSync('mkdir', ['-p', path.dirname(bad)]);
    writeFileSync(bad, 'not a checkpoint');
    const r = exportCli(['--weights', bad, '--include', 'onnx']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--weights .*best\.pt/);
    assert.deepEqual(readdirSync(path.dirname(bad)), ['best.pt']);
  });
});
