// SiLU (x * sigmoid(x), YOLOv5's activation) as one op: the backward is
// dx = dy * s * (1 + x * (1 - s)), five elementwise ops, where the taped x * sigmoid(x)
// needs six plus an extra saved clone per layer.
import * as tf from '@tensorflow/tfjs-core';

export function silu<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad(((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const s = tf.sigmoid(xIn);
    save([xIn, s]);
    return {
      value: tf.mul(xIn, s),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, sg] = saved;
        return [tf.mul(tf.mul(dy, sg), tf.add(tf.mul(xs, tf.sub(1, sg)), 1))];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as T;
}
