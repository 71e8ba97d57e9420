/**
 * composeCanvas (mosaic canvas, letterbox) = newImage(fill) followed by a blit per placement,
 * byte for byte: on random canvases with 0-5 placements (overlapping, touching the edges, empty,
 * covering everything), into a fresh buffer and into a dirty reused one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, blit, composeCanvas, newImage, type Placement, type RgbImage } from '../src/index.js';

function randomImage(rng: Rng, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.randint(0, 255);
  return { data, width, height };
}

function randomPlacement(rng: Rng, width: number, height: number): Placement {
  const src = randomImage(rng, rng.randint(1, 30), rng.randint(1, 30));
  const sx = rng.randint(0, src.width - 1);
  const sy = rng.randint(0, src.height - 1);
  const dx = rng.randint(0, width - 1);
  const dy = rng.randint(0, height - 1);
  // sometimes empty, else as large as both images allow
  const w = rng.random() < 0.1 ? 0 : rng.randint(1, Math.min(src.width - sx, width - dx));
  const h = rng.random() < 0.1 ? 0 : rng.randint(1, Math.min(src.height - sy, height - dy));
  return { src, sx, sy, dx, dy, w, h };
}

function reference(width: number, height: number, fill: number, placements: Placement[]): Uint8Array {
  const out = newImage(width, height, fill);
  for (const p of placements) blit(out, p.dx, p.dy, p.src, p.sx, p.sy, p.w, p.h);
  return out.data;
}

test('composeCanvas = fill + blits on 2000 random canvases', () => {
  const rng = new Rng(11);
  for (let i = 0; i < 2000; i++) {
    const width = rng.randint(1, 40);
    const height = rng.randint(1, 40);
    const fill = rng.randint(0, 255);
    const placements = Array.from({ length: rng.randint(0, 5) }, () => randomPlacement(rng, width, height));
    if (i % 10 === 0) {
      // one placement covering the whole canvas
      const src = randomImage(rng, width, height);
      placements.push({ src, sx: 0, sy: 0, dx: 0, dy: 0, w: width, h: height });
    }
    const want = reference(width, height, fill, placements);
    const dirty = randomImage(rng, width, height).data;
    const fresh = composeCanvas(width, height, fill, placements);
    const reused = composeCanvas(width, height, fill, placements, dirty);
    assert.equal(reused.data, dirty, 'into was not used');
    assert.ok(Buffer.from(fresh.data).equals(Buffer.from(want)), `case ${i} (fresh)`);
    assert.ok(Buffer.from(reused.data).equals(Buffer.from(want)), `case ${i} (reused)`);
  }
});

test('composeCanvas: a mosaic-like layout of four quadrants around a centre', () => {
  const rng = new Rng(12);
  const s = 64;
  for (let i = 0; i < 50; i++) {
    const xc = rng.randint(s / 2, (3 * s) / 2);
    const yc = rng.randint(s / 2, (3 * s) / 2);
    const imgs = Array.from({ length: 4 }, () => randomImage(rng, rng.randint(20, s), rng.randint(20, s)));
    const [a, b, c, d] = imgs as [RgbImage, RgbImage, RgbImage, RgbImage];
    const placements: Placement[] = [
      {
        src: a,
        sx: a.width - Math.min(a.width, xc),
        sy: a.height - Math.min(a.height, yc),
        dx: Math.max(xc - a.width, 0),
        dy: Math.max(yc - a.height, 0),
        w: Math.min(a.width, xc),
        h: Math.min(a.height, yc),
      },
      {
        src: b,
        sx: 0,
        sy: b.height - Math.min(b.height, yc),
        dx: xc,
        dy: Math.max(yc - b.height, 0),
        w: Math.min(b.width, 2 * s - xc),
        h: Math.min(b.height, yc),
      },
      {
        src: c,
        sx: c.width - Math.min(c.width, xc),
        sy: 0,
        dx: Math.max(xc - c.width, 0),
        dy: yc,
        w: Math.min(c.width, xc),
        h: Math.min(c.height, 2 * s - yc),
      },
      { src: d, sx: 0, sy: 0, dx: xc, dy: yc, w: Math.min(d.width, 2 * s - xc), h: Math.min(d.height, 2 * s - yc) },
    ];
    const want = reference(2 * s, 2 * s, 114, placements);
    assert.ok(Buffer.from(composeCanvas(2 * s, 2 * s, 114, placements).data).equals(Buffer.from(want)), `case ${i}`);
  }
});
