import { tf } from '@yolo-launch/backend';

/**
 * SiLU (x * sigmoid(x)), YOLOv5's default activation, as one differentiable op that keeps only
 * x for the backward (dy * s * (1 + x * (1 - s)), s recomputed): the taped x * sigmoid(x)
 * would hold sigmoid(x) too, one more full-size activation per conv until the step ends.
 */
export function silu<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((xx, save) => {
    const t = xx as tf.Tensor;
    (save as unknown as (ts: tf.Tensor[]) => void)([t]);
    const s = tf.sigmoid(t);
    const y = tf.mul(t, s);
    s.dispose();
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const xs = saved[0]!;
        const sg = tf.sigmoid(xs);
        return tf.mul(dy, tf.mul(sg, tf.add(1, tf.mul(xs, tf.sub(1, sg)))));
      },
    };
  });
  return f(x) as T;
}

/**
 * Rows of a 2-D tensor by host indices. tfjs differentiates gather through
 * UnsortedSegmentSum, which the wasm backend lacks; the backward here is a ScatterNd
 * (which sums duplicate indices, as gather's gradient must) and runs on every backend.
 */
export function gatherRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const n = x.shape[0];
  const f = tf.customGrad((xx, save) => {
    const t = xx as tf.Tensor2D;
    const idx = tf.tensor1d(rows, 'int32');
    (save as unknown as (ts: tf.Tensor[]) => void)([idx]);
    return {
      value: tf.gather(t, idx, 0),
      gradFunc: (dy, saved) => {
        const i2 = tf.reshape(saved[0]!, [rows.length, 1]);
        return tf.scatterND(i2, dy, [n, t.shape[1]]);
      },
    };
  });
  return f(x) as tf.Tensor2D;
}

/** Identity in the forward pass, zero gradient (torch's .detach() / no_grad). */
export function detach<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((xx) => ({
    value: tf.clone(xx as tf.Tensor),
    gradFunc: (dy) => tf.zerosLike(dy),
  }));
  return f(x) as T;
}
