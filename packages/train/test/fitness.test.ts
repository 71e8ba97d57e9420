// The trainer's fitness adapter (named P, R, mAP fields -> yolo's fitness row) against the
// fitness fixtures. NMS, process_batch and ap_per_class are yolo's; its tests check them.
import { test } from 'node:test';
import { close, loadFixtures } from './helpers/fixtures.js';
import { fitness } from '../src/early-stopping.js';

interface T {
  shape: number[];
  data: number[];
}

for (const f of loadFixtures('metrics')) {
  const inp = f.inputs as Record<string, T & number[]>;
  if ('weights' in inp) {
    test(`fitness fixture ${f.file}`, () => {
      for (const key of Object.keys(inp).filter((k) => k !== 'weights')) {
        const x = inp[key] as T;
        const cols = x.shape[1]!;
        const want = (f.expected[`fitness_${key}`] as T).data;
        for (let i = 0; i < want.length; i++) {
          const r = x.data.slice(i * cols, i * cols + 4);
          close(
            fitness({ p: r[0]!, r: r[1]!, map50: r[2]!, map: r[3]! }),
            want[i]!,
            { abs: 1e-6 },
            `${key} fitness[${i}]`,
          );
        }
      }
    });
  }
}
