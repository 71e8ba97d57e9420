/**
 * The project's seeded generators. Each one feeds streams that training results depend on, so
 * NONE OF THEM MAY CHANGE, not by a bit (test/rng.test.ts pins their first outputs):
 *
 * - `Sfc32Rng` seeded by `mixSeed(seed, epoch, index, ...)`: every random decision of the data
 *   pipeline (mosaic, perspective, HSV, flips, mixup, quad collate), multi-scale sizes, image
 *   weights, --evolve mutations. Re-exported as `Rng` by @yolo-launch/data.
 * - `Mulberry32Rng`: model initialisation and AutoAnchor's k-means/evolution in
 *   @yolo-launch/yolo (re-exported there as `Rng`).
 * - `splitmix32`: DistributedSampler's per-epoch permutation in @yolo-launch/ddp (the order of
 *   the training set).
 *
 * They are three because they already are: merging them into one would change every one of
 * those streams and so every training result.
 */
import { FNV_OFFSET, FNV_PRIME } from './hash.js';

/** 32-bit FNV-1a style mix of a list of integers into one seed. */
export function mixSeed(...parts: number[]): number {
  let h = FNV_OFFSET;
  for (const p of parts) {
    let v = Math.floor(p) >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    for (const w of [v, hi]) {
      v = w;
      for (let i = 0; i < 4; i++) {
        h ^= v & 0xff;
        h = Math.imul(h, FNV_PRIME);
        v >>>= 8;
      }
    }
  }
  // final avalanche (murmur3 fmix32)
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32: small, fast, good statistical quality; state is four 32-bit words. */
export class Sfc32Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  static from(...parts: number[]): Sfc32Rng {
    return new Sfc32Rng(mixSeed(...parts));
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  random(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi) (Python's random.uniform). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer in [lo, hi] inclusive. */
  randint(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.choice: empty list');
    return items[Math.floor(this.random() * items.length)] as T;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }

  normal(): number {
    // Box-Muller; 1 - random() avoids log(0)
    const u = 1 - this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Gamma(shape, 1) by Marsaglia-Tsang (shape >= 1). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.random(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.random();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b), used by mixup (YOLOv5 draws np.random.beta(32, 32)). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** Weighted choice of k indices with replacement (Python's random.choices(weights=...)). */
  choicesWeighted(weights: ArrayLike<number>, k: number): number[] {
    const cum = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      total += Math.max(0, Number(weights[i]));
      cum[i] = total;
    }
    if (!(total > 0)) throw new Error('choicesWeighted: weights sum to zero');
    const out: number[] = [];
    for (let n = 0; n < k; n++) {
      const r = this.random() * total;
      let lo = 0;
      let hi = cum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((cum[mid] as number) > r) hi = mid;
        else lo = mid + 1;
      }
      out.push(lo);
    }
    return out;
  }
}

/**
 * mulberry32: model initialisation and k-means anchors, reproducible across ranks and runs.
 */
export class Mulberry32Rng {
  private state: number;
  constructor(seed = 0) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** A small, well-mixed 32-bit generator (splitmix32) giving floats in [0, 1). */
export function splitmix32(seed: number): () => number {
  let s = (seed | 0) ^ 0x9e3779b9;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}
