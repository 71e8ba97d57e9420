import { tf, maxPoolTorch } from '@yolo-launch/backend';
import type { ForwardContext } from './batchnorm.js';
import { Conv } from './conv.js';
import type { StateRegistry } from './state.js';

/** A layer of the YAML graph: takes one or more NHWC inputs, returns one NHWC output. */
export interface Block {
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D;
}

function one(inputs: tf.Tensor4D[]): tf.Tensor4D {
  if (inputs.length !== 1) throw new Error(`expected one input, got ${inputs.length}`);
  return inputs[0]!;
}

/** The arguments of a Conv or Focus row as the model plan resolves them (padding null: k // 2). */
export interface ConvArgs {
  c1: number;
  c2: number;
  k: number;
  s: number;
  p: number | null;
  act: boolean;
}

export class ConvBlock implements Block {
  readonly conv: Conv;
  constructor(reg: StateRegistry, prefix: string, { c1, c2, k, s, p, act }: ConvArgs) {
    // models.common.Conv registers its own conv/bn directly under the layer prefix
    this.conv = new Conv(reg, prefix, c1, c2, k, s, p, act);
  }
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    return this.conv.forward(one(inputs), ctx);
  }
}

/** models.common.Bottleneck: x + cv2(cv1(x)) when shortcut and c1 == c2. */
export class Bottleneck implements Block {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly add: boolean;
  constructor(reg: StateRegistry, prefix: string, c1: number, c2: number, shortcut = true, e = 0.5) {
    const c_ = Math.trunc(c2 * e);
    this.cv1 = new Conv(reg, `${prefix}.cv1`, c1, c_, 1, 1);
    this.cv2 = new Conv(reg, `${prefix}.cv2`, c_, c2, 3, 1);
    this.add = shortcut && c1 === c2;
  }
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    const x = one(inputs);
    const y = this.cv2.forward(this.cv1.forward(x, ctx), ctx);
    return this.add ? tf.add(x, y) : y;
  }
}

/** models.common.C3: cv3(cat(m(cv1(x)), cv2(x))) with n Bottlenecks (e=1.0) in m. */
export class C3 implements Block {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly cv3: Conv;
  readonly m: Bottleneck[] = [];
  constructor(reg: StateRegistry, prefix: string, c1: number, c2: number, n = 1, shortcut = true, e = 0.5) {
    const c_ = Math.trunc(c2 * e);
    this.cv1 = new Conv(reg, `${prefix}.cv1`, c1, c_, 1, 1);
    this.cv2 = new Conv(reg, `${prefix}.cv2`, c1, c_, 1, 1);
    this.cv3 = new Conv(reg, `${prefix}.cv3`, 2 * c_, c2, 1);
    for (let i = 0; i < n; i++) this.m.push(new Bottleneck(reg, `${prefix}.m.${i}`, c_, c_, shortcut, 1.0));
  }
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    const x = one(inputs);
    let y = this.cv1.forward(x, ctx);
    for (const b of this.m) y = b.forward([y], ctx);
    return this.cv3.forward(tf.concat([y, this.cv2.forward(x, ctx)], 3), ctx);
  }
}

function maxPool(x: tf.Tensor4D, k: number): tf.Tensor4D {
  // nn.MaxPool2d(k, stride=1, padding=k//2): PyTorch pads with -inf, tfjs ignores the padding; same result.
  return maxPoolTorch(x, k, 1, Math.floor(k / 2));
}

/** models.common.SPPF: cv2(cat(x, m(x), m(m(x)), m(m(m(x))))) with x = cv1(input). */
export class SPPF implements Block {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly k: number;
  constructor(reg: StateRegistry, prefix: string, c1: number, c2: number, k = 5) {
    this.k = k;
    const c_ = Math.trunc(c1 / 2);
    this.cv1 = new Conv(reg, `${prefix}.cv1`, c1, c_, 1, 1);
    this.cv2 = new Conv(reg, `${prefix}.cv2`, c_ * 4, c2, 1, 1);
  }
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    const x = this.cv1.forward(one(inputs), ctx);
    const y1 = maxPool(x, this.k);
    const y2 = maxPool(y1, this.k);
    return this.cv2.forward(tf.concat([x, y1, y2, maxPool(y2, this.k)], 3), ctx);
  }
}

/** models.common.SPP: cv2(cat(x, pool5(x), pool9(x), pool13(x))). */
export class SPP implements Block {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly ks: number[];
  constructor(reg: StateRegistry, prefix: string, c1: number, c2: number, ks: number[] = [5, 9, 13]) {
    this.ks = ks;
    const c_ = Math.trunc(c1 / 2);
    this.cv1 = new Conv(reg, `${prefix}.cv1`, c1, c_, 1, 1);
    this.cv2 = new Conv(reg, `${prefix}.cv2`, c_ * (ks.length + 1), c2, 1, 1);
  }
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    const x = this.cv1.forward(one(inputs), ctx);
    return this.cv2.forward(tf.concat([x, ...this.ks.map((k) => maxPool(x, k))], 3), ctx);
  }
}

/**
 * Focus' space-to-depth: PyTorch concatenates x[..., ::2, ::2], x[..., 1::2, ::2],
 * x[..., ::2, 1::2], x[..., 1::2, 1::2] along channels, i.e. block index = 2*dw + dh.
 * Done with reshape/transpose so that it is differentiable on every backend.
 */
export function spaceToDepth(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (h % 2 || w % 2) throw new Error(`Focus needs even height and width, got ${h}x${w}`);
  // [b, h/2, dh, w/2, dw, c] -> [b, h/2, w/2, dw, dh, c]: channel = (2*dw + dh)*c + ch
  const blocks = tf.transpose(tf.reshape(x, [b, h / 2, 2, w / 2, 2, c]), [0, 1, 3, 4, 2, 5]);
  return tf.reshape(blocks, [b, h / 2, w / 2, 4 * c]);
}

/** models.common.Focus: space-to-depth, then Conv (c1*4 -> c2). */
export class Focus implements Block {
  readonly conv: Conv;
  constructor(reg: StateRegistry, prefix: string, { c1, c2, k, s, p, act }: ConvArgs) {
    this.conv = new Conv(reg, `${prefix}.conv`, c1 * 4, c2, k, s, p, act);
  }
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    return this.conv.forward(spaceToDepth(one(inputs)), ctx);
  }
}

/** models.common.Concat along PyTorch dim 1 (channels) = NHWC axis 3. */
export class Concat implements Block {
  forward(inputs: tf.Tensor4D[]): tf.Tensor4D {
    return tf.concat(inputs, 3);
  }
}

/**
 * nn.Upsample(scale_factor=s, mode='nearest'): out[i] = in[floor(i / s)]. The forward is tfjs'
 * resizeNearestNeighbor (no align_corners / half-pixel centres = the same source index). The
 * backward is our own sum over each s x s block: tfjs-backend-cpu's ResizeNearestNeighborGrad
 * returns wrong values for inputs with more than one pixel per block pattern (found by the
 * finite-difference test in test/train-mode.test.ts), and a reshape + sum runs everywhere.
 */
export function upsampleNearest(x: tf.Tensor4D, s: number): tf.Tensor4D {
  const f = tf.customGrad((xx) => {
    const t = xx as tf.Tensor4D;
    const [b, h, w, c] = t.shape;
    return {
      value: tf.image.resizeNearestNeighbor(t, [h * s, w * s], false, false),
      gradFunc: (dy) => {
        // dy [b, h*s, w*s, c]: sum the s rows of each block, then the s columns
        const rows = tf.sum(tf.reshape(dy, [b * h, s, w * s * c]), 1);
        return tf.reshape(tf.sum(tf.reshape(rows, [b * h * w, s, c]), 1), [b, h, w, c]);
      },
    };
  });
  return f(x) as tf.Tensor4D;
}

export class Upsample implements Block {
  constructor(readonly scale: number) {}
  forward(inputs: tf.Tensor4D[]): tf.Tensor4D {
    return upsampleNearest(one(inputs), this.scale);
  }
}

/** n > 1 repeats of a non-C3 module: nn.Sequential, names model.i.0..., model.i.1... */
export class Sequential implements Block {
  constructor(readonly blocks: Block[]) {}
  forward(inputs: tf.Tensor4D[], ctx: ForwardContext): tf.Tensor4D {
    let y = this.blocks[0]!.forward(inputs, ctx);
    for (const b of this.blocks.slice(1)) y = b.forward([y], ctx);
    return y;
  }
}
