/**
 * The canvas step alone (one thread, CPU-ms per output image, median of rounds): the mosaic's
 * 2s x 2s canvas with four 4:3 photos around a random centre, and the letterbox of a 640x480
 * image to 640x672 (a rect validation shape) into a fresh batch buffer and into a reused one;
 * newImage + a row-by-row blit (how it was), newImage + blit (whole rows in one copy) and
 * composeCanvas (how it is).
 *
 *   node packages/data/dist/bench/canvas.js      env: BENCH_ROUNDS=7
 */
import { Rng, blit, composeCanvas, newImage, PAD_VALUE, type Placement, type RgbImage } from '../src/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

type Compose = (width: number, height: number, placements: Placement[], into: Uint8Array) => void;

/** The blit before this change: one copy per row, always. */
function blitRowByRow(dst: RgbImage, p: Placement): void {
  for (let r = 0; r < p.h; r++) {
    const so = ((p.sy + r) * p.src.width + p.sx) * 3;
    dst.data.set(p.src.data.subarray(so, so + p.w * 3), ((p.dy + r) * dst.width + p.dx) * 3);
  }
}
const before: Compose = (width, height, placements, into) => {
  const out = newImage(width, height, PAD_VALUE, into);
  for (const p of placements) blitRowByRow(out, p);
};
const fillThenBlit: Compose = (width, height, placements, into) => {
  const out = newImage(width, height, PAD_VALUE, into);
  for (const p of placements) blit(out, p.dx, p.dy, p.src, p.sx, p.sy, p.w, p.h);
};
const composed: Compose = (width, height, placements, into) => {
  composeCanvas(width, height, PAD_VALUE, placements, into);
};

function photo(rng: Rng, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 97) data[i] = rng.randint(0, 255);
  return { data, width, height };
}

/** loadMosaic's placements for centre (xc, yc) and four w x h images. */
function mosaicLayout(rng: Rng, s: number, imgs: RgbImage[]): Placement[] {
  const xc = rng.randint(s / 2, (3 * s) / 2);
  const yc = rng.randint(s / 2, (3 * s) / 2);
  return imgs.map((src, i) => {
    const { width: w, height: h } = src;
    const x1a = i % 2 === 0 ? Math.max(xc - w, 0) : xc;
    const x2a = i % 2 === 0 ? xc : Math.min(xc + w, 2 * s);
    const y1a = i < 2 ? Math.max(yc - h, 0) : yc;
    const y2a = i < 2 ? yc : Math.min(2 * s, yc + h);
    const sx = i % 2 === 0 ? w - (x2a - x1a) : 0;
    const sy = i < 2 ? h - (y2a - y1a) : 0;
    return { src, sx, sy, dx: x1a, dy: y1a, w: x2a - x1a, h: y2a - y1a };
  });
}

function cpuMs(run: () => void): number {
  const c0 = process.cpuUsage();
  run();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median over rounds of CPU-ms per image; `fresh`: a new batch buffer per round (page faults). */
function measure(compose: Compose, layouts: Placement[][], width: number, height: number, fresh: boolean): number {
  const per = width * height * 3;
  let reused = new Uint8Array(per * layouts.length);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const batch = fresh ? new Uint8Array(per * layouts.length) : reused;
    rounds.push(
      cpuMs(() => layouts.forEach((l, k) => compose(width, height, l, batch.subarray(k * per, (k + 1) * per)))) /
        layouts.length,
    );
    reused = batch;
  }
  return median(rounds);
}

const rng = new Rng(1);
const s = 640;
const photos = Array.from({ length: 8 }, (_, i) => photo(rng, 640, i % 3 === 0 ? 427 : 480));
const mosaics = Array.from({ length: 16 }, (_, i) =>
  mosaicLayout(
    rng,
    s,
    [0, 1, 2, 3].map((k) => photos[(i + k) % 8]!),
  ),
);
// the mosaic canvas is one reused buffer per thread: `fresh` false
const mosaicCanvas = (c: Compose): number => measure(c, mosaics, 2 * s, 2 * s, false);
const letterboxes = Array.from({ length: 32 }, (_, i) => [
  {
    src: photos[i % 8]!,
    sx: 0,
    sy: 0,
    dx: 0,
    dy: (672 - photos[i % 8]!.height) >> 1,
    w: 640,
    h: photos[i % 8]!.height,
  },
]);
const rows: Array<[string, (c: Compose) => number]> = [
  ['mosaic canvas 1280x1280, 4 photos (reused canvas)', mosaicCanvas],
  ['letterbox 640x480 -> 640x672, fresh batch buffer', (c) => measure(c, letterboxes, 640, 672, true)],
  ['letterbox 640x480 -> 640x672, recycled batch buffer', (c) => measure(c, letterboxes, 640, 672, false)],
];
console.log(`CPU-ms per image, one thread, median of ${ROUNDS} rounds`);
console.log('| step | before: newImage + row-by-row blit | newImage + blit | composeCanvas |');
console.log('|---|---|---|---|');
for (const [name, run] of rows)
  console.log(`| ${name} | ${[before, fillThenBlit, composed].map((c) => run(c).toFixed(2)).join(' | ')} |`);
