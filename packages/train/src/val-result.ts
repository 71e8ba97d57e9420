// What a validation returns: P, R, mAP, the losses, the per-class rows of YOLOv5's table and
// val.py's speed line.

import type * as yolo from '@yolo-launch/yolo';

export interface ClassRow {
  cls: number;
  name: string;
  images: number;
  instances: number;
  p: number;
  r: number;
  map50: number;
  map: number;
}

/** val.py's speed line: milliseconds per image. */
export interface ValSpeed {
  preprocess: number;
  inference: number;
  nms: number;
}

export interface ValResult {
  mp: number;
  mr: number;
  map50: number;
  map: number;
  /** Mean validation losses [box, obj, cls] (zeros without a loss function, as val.py). */
  loss: number[];
  /** Per-class mAP50-95, length nc (classes without labels get the mean). */
  maps: number[];
  seen: number;
  instances: number;
  perClass: ClassRow[];
  /** For plots: per-class P/R/F1 curves and the confusion pairs. */
  curves?: yolo.ApPerClassResult['curves'];
  confusion?: number[][];
  speed: ValSpeed;
  seconds: number;
}

export const speedShape = (t: number[]): ValSpeed => ({ preprocess: t[0]!, inference: t[1]!, nms: t[2]! });
