// roundHalfEven replaced three copies, each a different algorithm. They are kept here as
// references: on every value, negative halves included, the kept one (the former yolo copy)
// gives the same result as the train copy to the bit (Object.is, so the sign of zero too), and
// the same number as the data copy (===: that one gave +0 where the others give -0, for
// -0.5 <= x < 0; data's letterbox, which rounds paddings such as dh - 0.1, turns -0 into 0
// itself, as Python's int does).
import assert from 'node:assert/strict';
import test from 'node:test';
import { checkImgSize, makeDivisible, roundHalfEven } from '../src/index.js';

/** The former packages/data/src/rounding.ts. */
function dataCopy(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
/** The former packages/train/src/schedule.ts. */
function trainCopy(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x % 1) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

function values(): number[] {
  const out: number[] = [
    0,
    -0,
    0.5,
    -0.5,
    1.5,
    -1.5,
    2.5,
    -2.5,
    0.49999999999999994,
    -0.49999999999999994,
    2 ** 52 - 0.5,
    -(2 ** 52) + 0.5,
    2 ** 53,
    1e300,
  ];
  for (let k = -2000; k <= 2000; k++) out.push(k / 2, k / 4, k / 10, k / 3, k * 0.1 + 0.05);
  let s = 12345;
  for (let i = 0; i < 20000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push((s / 2 ** 32 - 0.5) * 10 ** (i % 7));
  }
  return out;
}

test('roundHalfEven equals the former train copy bit for bit and the data copy as a number, negative halves included', () => {
  for (const x of values()) {
    const kept = roundHalfEven(x);
    assert.ok(
      Object.is(kept, trainCopy(x)) && kept === dataCopy(x),
      `x=${x}: kept ${kept}, train ${trainCopy(x)}, data ${dataCopy(x)}`,
    );
  }
});

test('Python round(): halves go to the even neighbour', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, 3]);
});

test('checkImgSize and makeDivisible: up to a multiple of the stride, at least the floor', () => {
  assert.equal(makeDivisible(65, 32), 96);
  assert.equal(checkImgSize(64, 32), 64);
  assert.equal(checkImgSize(65, 32), 96);
  assert.equal(checkImgSize(20, 32, 64), 64);
  assert.equal(checkImgSize(100, 32.9), 128);
});
