/**
 * The embedded default dataset: coloured rectangles, ellipses and triangles on textured
 * backgrounds, in the YOLO layout with its YAML. Seeded, so every install makes the same
 * files; created on first use and reused afterwards (a marker file records the parameters).
 *
 * Each class has one shape and a clearly distinct colour family (jittered), objects vary in
 * size, aspect ratio and position and may overlap a little; a small detector learns it in
 * minutes on a CPU at imgsz 64-160.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Rng } from './rng.js';
import { dataPaths } from './paths.js';
import { encodeJpeg, newImage, type RgbImage } from './image.js';

export const SYNTHETIC_CLASSES = ['rectangle', 'ellipse', 'triangle'] as const;
export const SYNTHETIC_VERSION = 1;

export interface SyntheticOptions {
  seed?: number;
  nTrain?: number;
  nVal?: number;
  /** Longest image side in pixels (images are imgSize x imgSize or 3:4 / 4:3 of it). */
  imgSize?: number;
  /** Objects per image: 1..maxObjects. */
  maxObjects?: number;
}

export interface SyntheticObject {
  cls: number;
  /** Pixel box x1, y1, x2, y2 (the shape's exact extent). */
  box: [number, number, number, number];
  color: [number, number, number];
}

export interface SyntheticImage {
  image: RgbImage;
  objects: SyntheticObject[];
}

const DEFAULTS: Required<SyntheticOptions> = { seed: 0, nTrain: 256, nVal: 64, imgSize: 128, maxObjects: 4 };

/** Base hue per class: red, green, blue; saturated and bright against a muted background. */
const CLASS_COLORS: Array<[number, number, number]> = [
  [225, 40, 40],
  [40, 200, 60],
  [50, 80, 235],
];

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Muted, smoothly varying background: a tinted gradient, value noise and fine grain. */
function texturedBackground(w: number, h: number, rng: Rng): RgbImage {
  const img = newImage(w, h, 0);
  const base = rng.uniform(70, 170);
  const tint = [rng.uniform(-15, 15), rng.uniform(-15, 15), rng.uniform(-15, 15)];
  const gx = rng.uniform(-40, 40) / w;
  const gy = rng.uniform(-40, 40) / h;
  const cell = Math.max(4, Math.round(rng.uniform(6, 16)));
  const gw = Math.ceil(w / cell) + 2;
  const gh = Math.ceil(h / cell) + 2;
  const grid = new Float32Array(gw * gh).map(() => rng.uniform(-25, 25));
  const stripes = rng.random() < 0.3 ? { f: rng.uniform(0.2, 0.6), a: rng.uniform(6, 14), dir: rng.random() } : null;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const fx = x / cell;
      const fy = y / cell;
      const ix = Math.floor(fx);
      const iy = Math.floor(fy);
      const tx = fx - ix;
      const ty = fy - iy;
      const n00 = grid[iy * gw + ix]!;
      const n10 = grid[iy * gw + ix + 1]!;
      const n01 = grid[(iy + 1) * gw + ix]!;
      const n11 = grid[(iy + 1) * gw + ix + 1]!;
      const noise = (n00 * (1 - tx) + n10 * tx) * (1 - ty) + (n01 * (1 - tx) + n11 * tx) * ty;
      let v = base + gx * (x - w / 2) * w * 0.02 + gy * (y - h / 2) * h * 0.02 + noise;
      if (stripes) v += stripes.a * Math.sin((stripes.dir < 0.5 ? x : y) * stripes.f);
      const o = (y * w + x) * 3;
      const grain = (rng.random() - 0.5) * 10;
      img.data[o] = clamp255(v + tint[0]! + grain);
      img.data[o + 1] = clamp255(v + tint[1]! + grain);
      img.data[o + 2] = clamp255(v + tint[2]! + grain);
    }
  }
  return img;
}

type Inside = (x: number, y: number) => boolean;

/** Fills a shape with 4x supersampled coverage (smooth edges, box-accurate to a pixel). */
function fillShape(
  img: RgbImage,
  box: [number, number, number, number],
  inside: Inside,
  color: [number, number, number],
): void {
  const x0 = Math.max(0, Math.floor(box[0]));
  const y0 = Math.max(0, Math.floor(box[1]));
  const x1 = Math.min(img.width, Math.ceil(box[2]));
  const y1 = Math.min(img.height, Math.ceil(box[3]));
  const offs = [0.25, 0.75];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      let cov = 0;
      for (const oy of offs) for (const ox of offs) if (inside(x + ox, y + oy)) cov++;
      if (!cov) continue;
      const a = cov / 4;
      const o = (y * img.width + x) * 3;
      for (let c = 0; c < 3; c++) img.data[o + c] = clamp255(img.data[o + c]! * (1 - a) + color[c]! * a);
    }
  }
}

/** Intersection over the smaller box: keeps a small object from hiding behind a big one. */
function overlap(a: number[], b: number[]): number {
  const iw = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const ih = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const small = Math.min((a[2]! - a[0]!) * (a[3]! - a[1]!), (b[2]! - b[0]!) * (b[3]! - b[1]!));
  return small > 0 ? (iw * ih) / small : 0;
}

type Box = [number, number, number, number];
type Point = [number, number];

/** An object's box with its width and height as drawn (x2 - x1 can differ from bw in the last bit). */
interface Placement {
  box: Box;
  bw: number;
  bh: number;
}

/** A candidate object box: size 15-50% of the short side, aspect ratio e^±0.6, inside the image. */
function randomBox(rng: Rng, w: number, h: number): Placement {
  const size = rng.uniform(0.15, 0.5) * Math.min(w, h);
  const ar = Math.exp(rng.uniform(-0.6, 0.6)); // width / height
  const bw = Math.min(w - 2, size * Math.sqrt(ar));
  const bh = Math.min(h - 2, size / Math.sqrt(ar));
  const x1 = rng.uniform(1, w - 1 - bw);
  const y1 = rng.uniform(1, h - 1 - bh);
  return { box: [x1, y1, x1 + bw, y1 + bh], bw, bh };
}

/** The class's base colour jittered by ±25 per channel. */
function jitteredColor(rng: Rng, cls: number): [number, number, number] {
  const base = CLASS_COLORS[cls]!;
  return [
    clamp255(base[0] + rng.uniform(-25, 25)),
    clamp255(base[1] + rng.uniform(-25, 25)),
    clamp255(base[2] + rng.uniform(-25, 25)),
  ];
}

/** The ellipse inscribed in the box. */
function ellipseInside({ box, bw, bh }: Placement): Inside {
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const rx = bw / 2;
  const ry = bh / 2;
  return (x, y) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
}

/** Apex on one edge, base on the opposite edge: the box is the triangle's extent. */
function triangleCorners({ box, bw, bh }: Placement, t: number, orient: number): [Point, Point, Point] {
  if (orient === 0)
    return [
      [box[0] + t * bw, box[1]],
      [box[0], box[3]],
      [box[2], box[3]],
    ];
  if (orient === 1)
    return [
      [box[0] + t * bw, box[3]],
      [box[0], box[1]],
      [box[2], box[1]],
    ];
  if (orient === 2)
    return [
      [box[0], box[1] + t * bh],
      [box[2], box[1]],
      [box[2], box[3]],
    ];
  return [
    [box[2], box[1] + t * bh],
    [box[0], box[1]],
    [box[0], box[3]],
  ];
}

function triangleInside(placed: Placement, rng: Rng): Inside {
  const t = rng.uniform(0.15, 0.85);
  const orient = rng.randint(0, 3);
  const [a, b, c] = triangleCorners(placed, t, orient);
  const edge = (u: Point, v: Point, x: number, y: number): number =>
    (v[0] - u[0]) * (y - u[1]) - (v[1] - u[1]) * (x - u[0]);
  const sign = Math.sign(edge(a, b, c[0], c[1]));
  return (x, y) => sign * edge(a, b, x, y) >= 0 && sign * edge(b, c, x, y) >= 0 && sign * edge(c, a, x, y) >= 0;
}

/** The class's shape filling the box: rectangle, ellipse or triangle (which draws from rng). */
function shapeInside(cls: number, placed: Placement, rng: Rng): Inside {
  const box = placed.box;
  if (cls === 0) return (x, y) => x >= box[0] && x < box[2] && y >= box[1] && y < box[3];
  if (cls === 1) return ellipseInside(placed);
  return triangleInside(placed, rng);
}

/** Renders synthetic image number `index` of a split; pure function of (seed, split, index, options). */
export function renderSyntheticImage(
  seed: number,
  split: number,
  index: number,
  opts: Required<SyntheticOptions>,
): SyntheticImage {
  const rng = Rng.from(seed, split, index, SYNTHETIC_VERSION);
  const s = opts.imgSize;
  const aspect = rng.choice([1, 1, 0.75, 4 / 3]);
  const w = aspect >= 1 ? s : Math.round(s * aspect);
  const h = aspect >= 1 ? Math.round(s / aspect) : s;
  const image = texturedBackground(w, h, rng);
  const objects: SyntheticObject[] = [];
  const n = rng.randint(1, opts.maxObjects);
  for (let k = 0, tries = 0; k < n && tries < 50; tries++) {
    const cls = rng.randint(0, SYNTHETIC_CLASSES.length - 1);
    const placed = randomBox(rng, w, h);
    const box = placed.box;
    if (objects.some((o) => overlap(o.box, box) > 0.25)) continue;
    const color = jitteredColor(rng, cls);
    fillShape(image, box, shapeInside(cls, placed, rng), color);
    objects.push({ cls, box, color });
    k++;
  }
  return { image, objects };
}

function labelText(objects: SyntheticObject[], w: number, h: number): string {
  return (
    objects
      .map((o) => {
        const [x1, y1, x2, y2] = o.box;
        return `${o.cls} ${((x1 + x2) / 2 / w).toFixed(6)} ${((y1 + y2) / 2 / h).toFixed(6)} ${((x2 - x1) / w).toFixed(6)} ${((y2 - y1) / h).toFixed(6)}`;
      })
      .join('\n') + '\n'
  );
}

function resolveOptions(opts: SyntheticOptions): Required<SyntheticOptions> {
  return {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  } as Required<SyntheticOptions>;
}

/** Where the default dataset lives: $YOLO_LAUNCH_DATASETS or ~/.cache/yolo-launch/datasets. */
export function defaultDatasetsDir(): string {
  return dataPaths().datasetsDir;
}

export const SYNTHETIC_YAML = 'synthetic.yaml';
const MARKER = '.synthetic-complete.json';

/**
 * Creates the synthetic dataset in `dir` unless a complete one with the same parameters is
 * already there, and returns the path of its YAML. The files are written to a temporary
 * sibling folder and renamed into place, so a crash or a concurrent caller never leaves a
 * half-written dataset behind.
 */
export async function ensureSyntheticDataset(dir: string, options: SyntheticOptions = {}): Promise<string> {
  const opts = resolveOptions(options);
  const params = { version: SYNTHETIC_VERSION, ...opts };
  const yamlFile = path.join(dir, SYNTHETIC_YAML);
  const markerFile = path.join(dir, MARKER);
  const isComplete = (): boolean => {
    try {
      return JSON.stringify(JSON.parse(fs.readFileSync(markerFile, 'utf8'))) === JSON.stringify(params);
    } catch {
      return false;
    }
  };
  if (isComplete()) return yamlFile;
  fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
  const tmp = `${path.resolve(dir)}.tmp-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  try {
    const splits: Array<['train' | 'val', number, number]> = [
      ['train', 0, opts.nTrain],
      ['val', 1, opts.nVal],
    ];
    for (const [name, splitId, count] of splits) {
      fs.mkdirSync(path.join(tmp, 'images', name), { recursive: true });
      fs.mkdirSync(path.join(tmp, 'labels', name), { recursive: true });
      for (let i = 0; i < count; i++) {
        const { image, objects } = renderSyntheticImage(opts.seed, splitId, i, opts);
        const stem = `${name}_${String(i).padStart(5, '0')}`;
        fs.writeFileSync(path.join(tmp, 'images', name, `${stem}.jpg`), await encodeJpeg(image, 92));
        fs.writeFileSync(path.join(tmp, 'labels', name, `${stem}.txt`), labelText(objects, image.width, image.height));
      }
    }
    const names = SYNTHETIC_CLASSES.map((n, i) => `  ${i}: ${n}`).join('\n');
    fs.writeFileSync(
      path.join(tmp, SYNTHETIC_YAML),
      `# yolo-launch embedded synthetic dataset (seed ${opts.seed}, ${opts.nTrain} train / ${opts.nVal} val, ${opts.imgSize} px)\n` +
        `# generated by @yolo-launch/data ensureSyntheticDataset; safe to delete, it is recreated on use\n` +
        `path: .\ntrain: images/train\nval: images/val\nnc: ${SYNTHETIC_CLASSES.length}\nnames:\n${names}\n`,
    );
    fs.writeFileSync(path.join(tmp, MARKER), JSON.stringify(params));
    if (fs.existsSync(dir)) {
      if (isComplete()) return yamlFile; // someone else finished first
      fs.rmSync(dir, { recursive: true, force: true }); // stale or other parameters
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      if (!isComplete()) throw e;
    }
    return yamlFile;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The project's default --data: the synthetic dataset under defaultDatasetsDir(). */
export async function ensureDefaultDataset(options: SyntheticOptions = {}): Promise<string> {
  const opts = resolveOptions(options);
  const dir = path.join(
    defaultDatasetsDir(),
    `synthetic-v${SYNTHETIC_VERSION}-s${opts.seed}-${opts.nTrain}x${opts.nVal}-${opts.imgSize}`,
  );
  return ensureSyntheticDataset(dir, opts);
}
