// Child process of onednn.test.ts: YOLO-shaped conv forward + both gradients on the
// `tensorflow` backend, in a process whose TF_ENABLE_ONEDNN_OPTS the parent chose (TensorFlow
// reads it once, at load). Each case's y, dx, dw go to <outDir>/<index>.f32; a JSON line is
// written before and after each case, so a case that kills the process is still named.
import { writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { tf, initBackend } from '../../src/index.js';
import { convForwardAndGrads, type ConvGradCase } from './conv_grad_cases.js';

const [outDir, casesJson] = process.argv.slice(2);
const cases = JSON.parse(casesJson ?? '[]') as ConvGradCase[];

await initBackend({ backend: 'tensorflow', logger: { info() {}, warn() {} } });
cases.forEach((cs, index) => {
  writeSync(1, JSON.stringify({ index, started: true }) + '\n');
  const parts = convForwardAndGrads(tf, cs);
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  writeFileSync(path.join(outDir!, `${index}.f32`), all);
  writeSync(1, JSON.stringify({ index, done: true }) + '\n');
});
