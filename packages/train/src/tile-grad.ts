// tfjs's Tile gradient handles tensors of rank <= 4 only, and tf.broadcastTo (which the
// detector's nearest Upsample uses, at rank 6) runs as Tile. This registers a gradient for
// any rank: the gradient of a tiled tensor is the sum over its copies, taken one axis at a
// time as a rank-4 reshape [outer, reps, size, inner] summed over `reps`.
// (A local adapter until @yolo-launch/backend registers it; see the train README.)

import { tf } from '@yolo-launch/backend';

export function registerTileGradient(): void {
  const config: tf.GradConfig = {
    kernelName: 'Tile',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const x = saved[0]!;
      const reps = attrs.reps as number[];
      const g = dy as tf.Tensor;
      const derX = (): tf.Tensor =>
        tf.tidy(() => {
          let cur = g;
          const shape = [...g.shape];
          for (let d = 0; d < x.rank; d++) {
            const r = reps[d]!;
            if (r === 1) continue;
            const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
            const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
            const size = x.shape[d]!;
            cur = tf.sum(tf.reshape(cur, [outer, r, size, inner]), 1);
            shape[d] = size;
            cur = tf.reshape(cur, shape);
          }
          return cur;
        });
      return { x: derX };
    },
  };
  // Silence tfjs's "overriding the gradient" warning for this one deliberate registration.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    tf.registerGradient(config);
  } finally {
    console.warn = warn;
  }
}
