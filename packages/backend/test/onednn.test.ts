// TensorFlow's oneDNN kernels against tfjs's cpu backend on every YOLOv5n conv shape (forward,
// input and filter gradients; PyTorch padding, 'same', 'valid'; even and odd sizes), once with
// TF_ENABLE_ONEDNN_OPTS=1 and once with 0, each in its own process (TensorFlow reads the
// variable when it loads). With oneDNN off every case must match; if any case is wrong (or
// kills the process) with it on, tensorflowLoadEnv must turn oneDNN off by default.
// Skipped, with the reason printed, where tfjs-node is not set up (`npm run setup:tensorflow`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, initBackend, probeTensorflowBackend, tensorflowLoadEnv } from '../src/index.js';
import { relError } from './reference.js';
import { convForwardAndGrads, convGradCases, describeCase, type ConvGradCase } from './workers/conv_grad_cases.js';

const TOLERANCE = 1e-4; // max |a-b| / (1 + max |b|): float32 summation-order noise is ~1e-6
const worker = fileURLToPath(new URL('./workers/conv_grads_tensorflow.js', import.meta.url));

interface RunReport {
  done: number[];
  crashed: string | null;
  outDir: string;
}

/** Runs every case on tensorflow in a child with the given oneDNN setting; results stay in outDir. */
function runWorker(cases: ConvGradCase[], onednn: '0' | '1'): RunReport {
  const outDir = mkdtempSync(path.join(tmpdir(), `yl-onednn-${onednn}-`));
  const child = spawnSync(process.execPath, [worker, outDir, JSON.stringify(cases)], {
    env: { ...process.env, TF_ENABLE_ONEDNN_OPTS: onednn, TF_CPP_MIN_LOG_LEVEL: '2' },
    encoding: 'utf8',
    timeout: 5 * 60_000,
  });
  const records = child.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { index: number; started?: true; done?: true });
  const done = records.filter((r) => r.done).map((r) => r.index);
  let crashed: string | null = null;
  if (child.status !== 0) {
    const last = records.at(-1);
    const where = last?.started ? describeCase(cases[last.index]!) : 'outside a case';
    crashed = `process ended by ${child.signal ?? `exit ${child.status}`} at ${where}`;
  }
  return { done, crashed, outDir };
}

/** The cases of a run whose y, dx or dw differ from cpu's (scale-aware relative error). */
function wrongCases(cases: ConvGradCase[], run: RunReport, reference: (i: number) => Float32Array[]): string[] {
  const wrong: string[] = [];
  for (const index of run.done) {
    const got = new Float32Array(readFileSync(path.join(run.outDir, `${index}.f32`)).buffer.slice(0));
    let offset = 0;
    const errors = reference(index).map((want) => {
      const err = relError(got.subarray(offset, offset + want.length), want);
      offset += want.length;
      return err;
    });
    if (offset !== got.length || errors.some((e) => !(e <= TOLERANCE))) {
      wrong.push(
        `${describeCase(cases[index]!)}: rel err y ${errors[0]!.toExponential(1)}, dx ${errors[1]!.toExponential(1)}, dw ${errors[2]!.toExponential(1)}`,
      );
    }
  }
  return wrong;
}

const probe = probeTensorflowBackend();
const skip = probe.available
  ? false
  : `tfjs-node is not usable (run \`npm run setup:tensorflow\`): ${probe.detail.split('\n')[0]}`;
console.log(
  probe.available ? `tensorflow backend tests: RUN on ${probe.detail}` : `tensorflow backend tests: SKIPPED: ${skip}`,
);

test('oneDNN on and off: YOLOv5n conv forward and gradients on tensorflow against cpu', { skip }, async (t) => {
  await initBackend({ backend: 'cpu', logger: { info() {}, warn() {} } });
  const cases = convGradCases(tf);
  const references = new Map<number, Float32Array[]>();
  const reference = (i: number): Float32Array[] => {
    if (!references.has(i)) references.set(i, convForwardAndGrads(tf, cases[i]!));
    return references.get(i)!;
  };
  const off = runWorker(cases, '0');
  const on = runWorker(cases, '1');
  try {
    assert.equal(off.crashed, null, `oneDNN off: ${off.crashed}`);
    assert.equal(off.done.length, cases.length);
    assert.deepEqual(wrongCases(cases, off, reference), [], 'oneDNN off: every case matches cpu');

    const wrongOn = wrongCases(cases, on, reference);
    const faults = [...wrongOn, ...(on.crashed ? [on.crashed] : [])];
    t.diagnostic(
      `oneDNN on: ${on.done.length}/${cases.length} cases ran, ${wrongOn.length} wrong, ${on.crashed ? 'then the process died' : 'no crash'}`,
    );
    for (const fault of faults) t.diagnostic(`oneDNN on: ${fault}`);
    if (faults.length > 0) {
      assert.equal(
        tensorflowLoadEnv({}).TF_ENABLE_ONEDNN_OPTS,
        '0',
        'oneDNN is wrong for our shapes: it must be off by default',
      );
    }
    assert.equal(
      tensorflowLoadEnv({ TF_ENABLE_ONEDNN_OPTS: '1' }).TF_ENABLE_ONEDNN_OPTS,
      undefined,
      "the user's choice stands",
    );
  } finally {
    for (const run of [off, on]) rmSync(run.outDir, { recursive: true, force: true });
  }
});
