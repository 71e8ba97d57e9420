import { tf } from '@yolo-launch/backend';

/**
 * nn.BCEWithLogitsLoss(pos_weight=pw) with mean reduction, in PyTorch's stable form:
 * (1 - y) * x + (1 + (pw - 1) * y) * softplus(-x).
 */
export function bceWithLogits(x: tf.Tensor, y: tf.Tensor, posWeight = 1): tf.Tensor {
  return tf.mean(bceWithLogitsNone(x, y, posWeight));
}

export function bceWithLogitsNone(x: tf.Tensor, y: tf.Tensor, posWeight = 1): tf.Tensor {
  const neg = tf.mul(tf.sub(1, y), x);
  const sp = tf.softplus(tf.neg(x));
  const w = posWeight === 1 ? sp : tf.mul(tf.add(tf.mul(y, posWeight - 1), 1), sp);
  return tf.add(neg, w);
}

/** utils/loss.py FocalLoss(BCEWithLogitsLoss, gamma, alpha=0.25), mean reduction. */
export function focalLoss(x: tf.Tensor, y: tf.Tensor, posWeight: number, gamma: number, alpha = 0.25): tf.Tensor {
  const loss = bceWithLogitsNone(x, y, posWeight);
  const p = tf.sigmoid(x);
  const pt = tf.add(tf.mul(y, p), tf.mul(tf.sub(1, y), tf.sub(1, p)));
  const alphaFactor = tf.add(tf.mul(y, alpha), tf.mul(tf.sub(1, y), 1 - alpha));
  const modulating = tf.pow(tf.sub(1, pt), gamma);
  return tf.mean(tf.mul(tf.mul(loss, alphaFactor), modulating));
}
