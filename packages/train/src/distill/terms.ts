// The distillation terms, as functions of tensors only (tested against PyTorch values in
// test/distill-terms.test.ts). YOLOv6's loss_distill.py, adapted to YOLOv5's anchor-based head;
// README "Knowledge distillation" says which anchors each term covers and why.

import { tf } from '@yolo-launch/backend';
import { bboxIouXywh, bceWithLogits } from '@yolo-launch/yolo';

/**
 * YOLOv6's distill_weightdecay: the distillation terms' weight at `epoch` (0-based) of
 * `epochs`, cosine from 1 at epoch 0 down to 0.01 at epoch = epochs.
 */
export function distillWeight(epoch: number, epochs: number): number {
  return ((1 - Math.cos((epoch * Math.PI) / epochs)) / 2) * (0.01 - 1) + 1;
}

/**
 * YOLOv6's distill_loss_cls for rows of class logits [n, nc]: KL(teacher || student) of the
 * softmax at temperature T, summed over classes and rows (reduction "sum"), times T².
 */
export function classKlSum(student: tf.Tensor2D, teacher: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logStudent = tf.logSoftmax(tf.div(student, temperature));
    const logTeacher = tf.logSoftmax(tf.div(teacher, temperature));
    const kl = tf.sum(tf.mul(tf.exp(logTeacher), tf.sub(logTeacher, logStudent)));
    return tf.mul(kl, temperature * temperature) as tf.Scalar;
  });
}

/**
 * Objectness against the teacher's: the mean over all anchors of the binary KL divergence
 * between sigmoid(teacher) and sigmoid(student), i.e. BCE-with-logits against the soft
 * target sigmoid(teacher) minus that target's own entropy (0 when they agree; the gradient
 * is BCE's, sigmoid(student) - sigmoid(teacher)).
 */
export function objectnessKlMean(student: tf.Tensor1D, teacher: tf.Tensor1D, posWeight = 1): tf.Scalar {
  return tf.tidy(() => {
    const target = tf.sigmoid(teacher);
    return tf.sub(bceWithLogits(student, target, posWeight), bceWithLogits(teacher, target, posWeight)) as tf.Scalar;
  });
}

/** Boxes against the teacher's: mean of 1 - CIoU over rows of xywh boxes [n, 4] (YOLOv5's lbox with the teacher's box as target). */
export function boxCiouMean(student: tf.Tensor2D, teacher: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sub(1, bboxIouXywh(student, teacher, 'CIoU'))) as tf.Scalar);
}

/**
 * YOLOv6's distill_loss_cw (channel-wise distillation) for one feature map pair, NHWC
 * [N, H, W, C]: per image and channel, the softmax over the H·W positions at temperature
 * T; KL(teacher || student) summed over everything, times T² / (N·C).
 */
export function channelWiseKl(student: tf.Tensor4D, teacher: tf.Tensor4D, temperature = 1): tf.Scalar {
  return tf.tidy(() => {
    const [n, h, w, c] = student.shape;
    // [N, C, H·W]: tfjs's logSoftmax runs over the last axis only, here a channel's positions
    const perChannel = (x: tf.Tensor4D): tf.Tensor =>
      tf.logSoftmax(tf.div(tf.transpose(tf.reshape(x, [n, h * w, c]), [0, 2, 1]), temperature));
    const logStudent = perChannel(student);
    const logTeacher = perChannel(teacher);
    const kl = tf.sum(tf.mul(tf.exp(logTeacher), tf.sub(logTeacher, logStudent)));
    return tf.mul(kl, (temperature * temperature) / (n * c)) as tf.Scalar;
  });
}
