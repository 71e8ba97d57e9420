import { tf } from '@yolo-launch/backend';
import { detach } from '../nn/ops.js';

export type IouKind = 'IoU' | 'GIoU' | 'DIoU' | 'CIoU';

/**
 * utils/metrics.py bbox_iou(xywh=True) on tensors [n, 4] (or broadcastable), differentiable.
 * CIoU's alpha is computed without gradient, as upstream (torch.no_grad()). Returns [n].
 */
export function bboxIouXywh(box1: tf.Tensor2D, box2: tf.Tensor2D, kind: IouKind = 'CIoU', eps = 1e-7): tf.Tensor1D {
  return tf.tidy(() => {
    const [x1, y1, w1, h1] = tf.split(box1, 4, 1) as tf.Tensor2D[];
    const [x2, y2, w2, h2] = tf.split(box2, 4, 1) as tf.Tensor2D[];
    const w1_ = tf.div(w1!, 2);
    const h1_ = tf.div(h1!, 2);
    const w2_ = tf.div(w2!, 2);
    const h2_ = tf.div(h2!, 2);
    const b1x1 = tf.sub(x1!, w1_);
    const b1x2 = tf.add(x1!, w1_);
    const b1y1 = tf.sub(y1!, h1_);
    const b1y2 = tf.add(y1!, h1_);
    const b2x1 = tf.sub(x2!, w2_);
    const b2x2 = tf.add(x2!, w2_);
    const b2y1 = tf.sub(y2!, h2_);
    const b2y2 = tf.add(y2!, h2_);
    const clamp0 = (t: tf.Tensor): tf.Tensor => tf.clipByValue(t, 0, Number.MAX_VALUE);
    const inter = tf.mul(
      clamp0(tf.sub(tf.minimum(b1x2, b2x2), tf.maximum(b1x1, b2x1))),
      clamp0(tf.sub(tf.minimum(b1y2, b2y2), tf.maximum(b1y1, b2y1))),
    );
    const union = tf.add(tf.sub(tf.add(tf.mul(w1!, h1!), tf.mul(w2!, h2!)), inter), eps);
    const iou = tf.div(inter, union);
    let out: tf.Tensor = iou;
    if (kind !== 'IoU') {
      const cw = tf.sub(tf.maximum(b1x2, b2x2), tf.minimum(b1x1, b2x1));
      const ch = tf.sub(tf.maximum(b1y2, b2y2), tf.minimum(b1y1, b2y1));
      if (kind === 'GIoU') {
        const cArea = tf.add(tf.mul(cw, ch), eps);
        out = tf.sub(iou, tf.div(tf.sub(cArea, union), cArea));
      } else {
        const c2 = tf.add(tf.add(tf.square(cw), tf.square(ch)), eps);
        const rho2 = tf.div(
          tf.add(
            tf.square(tf.sub(tf.sub(tf.add(b2x1, b2x2), b1x1), b1x2)),
            tf.square(tf.sub(tf.sub(tf.add(b2y1, b2y2), b1y1), b1y2)),
          ),
          4,
        );
        if (kind === 'DIoU') out = tf.sub(iou, tf.div(rho2, c2));
        else {
          const v = tf.mul(4 / Math.PI ** 2, tf.square(tf.sub(tf.atan(tf.div(w2!, h2!)), tf.atan(tf.div(w1!, h1!)))));
          // v - iou + 1 + eps >= eps whenever iou <= 1, so the floor changes nothing then; it
          // keeps alpha finite (0/eps = 0) when rounding makes the IoU of coinciding boxes
          // exceed 1 (distillation compares a box with a near-identical one)
          const alpha = detach(tf.div(v, tf.maximum(tf.add(tf.sub(v, iou), 1 + eps), eps)));
          out = tf.sub(iou, tf.add(tf.div(rho2, c2), tf.mul(v, alpha)));
        }
      }
    }
    return tf.reshape(out, [-1]) as tf.Tensor1D;
  });
}
