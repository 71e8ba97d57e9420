// Gradient of FusedBatchNorm without tfjs's Tile: tfjs-core tiles rsqrt(variance) to the
// full [N,H,W,C] shape before multiplying (57 Tiles took 1.1 s of a 3.2 s YOLOv5n step on
// wasm). Broadcasting does the same with no full-size temporary, and the two per-channel
// reductions every parameter's gradient needs are computed once, not once per input.
import {
  add,
  broadcast_util,
  FusedBatchNorm,
  mul,
  neg,
  reshape,
  rsqrt,
  scalar,
  square,
  sub,
  sum,
  tidy,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
} from '@tensorflow/tfjs-core';

export const fusedBatchNormGradConfig: GradConfig = {
  kernelName: FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const g = dy as Tensor;
    const [x, mean, variance, scale] = saved;
    const eps = attrs.varianceEpsilon as number;
    const axes = broadcast_util.getReductionAxes(mean.shape, x.shape);
    const toStatShape = (t: Tensor) => reshape(axes.length > 0 ? sum(t, axes) : t, mean.shape);
    // Per-channel quantities, computed eagerly: tiny, and shared by several input gradients.
    const [rstd, gainRstd, sumDy, sumDyXm] = tidy(() => {
      const r = rsqrt(add(variance, scalar(eps)));
      return [r, scale == null ? r : mul(scale, r), toStatShape(g), toStatShape(mul(g, sub(x, mean)))];
    });
    return {
      x: () => mul(g, gainRstd),
      mean: () => neg(mul(sumDy, gainRstd)),
      variance: () => mul(sumDyXm, mul(gainRstd, mul(scalar(-0.5), square(rstd)))),
      scale: () => mul(sumDyXm, rstd),
      offset: () => sumDy,
    };
  },
};
