import { tf, conv2dTorch, fusedConv2dTorch } from '@yolo-launch/backend';
import { BatchNorm2d, localMoments, type ForwardContext } from './batchnorm.js';
import { silu } from './ops.js';
import type { StateRegistry } from './state.js';

/** YOLOv5's autopad: 'same' padding for odd kernels (k // 2). */
export function autopad(k: number, p: number | null, d = 1): number {
  const ke = d > 1 ? d * (k - 1) + 1 : k;
  return p ?? Math.floor(ke / 2);
}

/**
 * models.common.Conv: Conv2d(bias=False) -> BatchNorm2d -> SiLU.
 * Training uses batch statistics; eval folds BN into the filter and a bias (fused-BN),
 * which is what YOLOv5's fuse() does, recomputed per call so it always tracks the weights.
 */
export class Conv {
  readonly weight: tf.Variable<tf.Rank.R4>;
  readonly bn: BatchNorm2d;
  readonly pad: number;

  constructor(
    reg: StateRegistry,
    prefix: string,
    readonly c1: number,
    readonly c2: number,
    readonly k = 1,
    readonly s = 1,
    p: number | null = null,
    readonly act = true,
  ) {
    this.pad = autopad(k, p);
    this.weight = reg.convWeight(`${prefix}.conv.weight`, [c2, c1, k, k]);
    this.bn = new BatchNorm2d(reg, `${prefix}.bn`, c2);
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    let y: tf.Tensor4D;
    if (ctx.training && this.act && ctx.moments === localMoments) {
      return this.bn.forwardSiluLocal(conv2dTorch(x, this.weight, this.s, this.pad), ctx);
    } else if (ctx.training) {
      y = this.bn.forward(conv2dTorch(x, this.weight, this.s, this.pad), ctx);
    } else {
      const { scale, shift } = this.bn.evalScaleShift();
      const filter = tf.mul(this.weight, scale) as tf.Tensor4D; // scale broadcasts over the out axis (last)
      y = fusedConv2dTorch(x, filter, this.s, this.pad, shift);
    }
    return this.act ? silu(y) : y;
  }
}
