// One validated image as rank 0 needs it: its detections and labels scaled back to the
// original image's pixels (val.py's predn / labelsn).

import * as yolo from '@yolo-launch/yolo';
import type { Batch } from './batches.js';

/** One image as rank 0 needs it: detections and labels [cls, x1, y1, x2, y2], both in original pixels. */
export interface ImageRecord {
  det: Float32Array;
  labels: Float32Array;
}

/** One image: labels and detections scaled back to the original image (val.py's labelsn / predn). */
export function imageRecord(det: Float32Array, si: number, batch: Batch): ImageRecord {
  const cls: number[] = [];
  const boxes: number[] = [];
  for (let r = 0; r < batch.targets.length; r += 6) {
    if (batch.targets[r] !== si) continue;
    const [x, y, w, h] = [
      batch.targets[r + 2]! * batch.width,
      batch.targets[r + 3]! * batch.height,
      batch.targets[r + 4]! * batch.width,
      batch.targets[r + 5]! * batch.height,
    ];
    cls.push(batch.targets[r + 1]!);
    boxes.push(x - w / 2, y - h / 2, x + w / 2, y + h / 2);
  }
  const shape = batch.shapes[si]!;
  const img1: [number, number] = [batch.height, batch.width];
  const ratioPad: yolo.RatioPad = [shape.ratio, shape.pad];
  const tbox = Float32Array.from(boxes);
  yolo.scaleBoxes(img1, tbox, shape.orig, ratioPad);
  const labels = new Float32Array(cls.length * 5);
  cls.forEach((c, j) => {
    labels[j * 5] = c;
    labels.set(tbox.subarray(j * 4, j * 4 + 4), j * 5 + 1);
  });
  const scaled = det.slice();
  yolo.scaleBoxes(img1, scaled, shape.orig, ratioPad, 6);
  return { det: scaled, labels };
}
