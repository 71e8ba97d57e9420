// Tiny PNG writer (node:zlib) and a hand-made detection dataset whose images hold objects of
// one fixed size away from the borders: every image then yields the same number of matched
// anchor targets, so per-rank mean losses compose exactly into the global-batch loss (the
// condition under which YOLOv5's DDP equals one process).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { writeTestHyp } from './run.js';

function crc32(buf: Buffer): number {
  let c: number;
  let crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]!) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** RGB bytes (HWC) -> PNG file bytes. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const COLORS: [number, number, number][] = [
  [230, 40, 40],
  [40, 210, 60],
  [50, 80, 240],
];

/**
 * A dataset of `n` images (size x size), each with one filled square of side `side` of class
 * i % 3 at a position inside [margin, size - margin]; train and val share the images.
 */
export function makeFixedSizeDataset(dir: string, n: number, size = 64, side = 20): string {
  for (const split of ['images', 'labels']) fs.mkdirSync(path.join(dir, split, 'train'), { recursive: true });
  let s = 12345;
  const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  for (let i = 0; i < n; i++) {
    const rgb = new Uint8Array(size * size * 3);
    for (let p = 0; p < size * size; p++) {
      const g = 110 + Math.floor(rand() * 30);
      rgb[p * 3] = g;
      rgb[p * 3 + 1] = g;
      rgb[p * 3 + 2] = g;
    }
    const cls = i % 3;
    const margin = 18;
    // Centres whose grid fractions are never exactly 0.5 at strides 8 and 16 (a fraction of
    // exactly .5 takes no neighbour cell in build_targets and would change the match count).
    const pick = (): number => {
      for (;;) {
        const c = margin + Math.floor(rand() * (size - 2 * margin));
        if (c % 8 !== 4 && c % 16 !== 8) return c;
      }
    };
    const cx = pick();
    const cy = pick();
    const x0 = cx - side / 2;
    const y0 = cy - side / 2;
    for (let y = y0; y < y0 + side; y++)
      for (let x = x0; x < x0 + side; x++) {
        const o = (y * size + x) * 3;
        [rgb[o], rgb[o + 1], rgb[o + 2]] = COLORS[cls]!;
      }
    const stem = `im${String(i).padStart(3, '0')}`;
    fs.writeFileSync(path.join(dir, 'images', 'train', `${stem}.png`), encodePng(rgb, size, size));
    fs.writeFileSync(
      path.join(dir, 'labels', 'train', `${stem}.txt`),
      `${cls} ${cx / size} ${cy / size} ${side / size} ${side / size}\n`,
    );
  }
  const yaml = path.join(dir, 'fixed.yaml');
  fs.writeFileSync(
    yaml,
    `path: ${dir}\ntrain: images/train\nval: images/train\nnames:\n  0: red\n  1: green\n  2: blue\n`,
  );
  return yaml;
}

/** The fast test hyp with every augmentation off (pure determinism across world sizes). */
export function writeNoAugHyp(dir: string): string {
  return writeTestHyp(dir, 'hyp.noaug.yaml', { momentum: 0.9, warmup_epochs: 1.0 });
}
