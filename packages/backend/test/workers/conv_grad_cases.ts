// The convolutions the oneDNN test checks: the 29 distinct conv shapes of a YOLOv5n step
// (what `npm run bench -w packages/backend` measures), each with PyTorch's padding (the
// model's path), 'same' and 'valid', at a small even and a small odd spatial size.
import type * as tfc from '@tensorflow/tfjs-core';
import { conv2dTorch, type Tf } from '../../src/index.js';
import { randomArray } from '../reference.js';
import { YoloV5Shaped, YOLOV5N } from '../yolov5n_shaped.js';

type Tensor = tfc.Tensor;
type Tensor4D = tfc.Tensor4D;

export interface ConvGradCase {
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  s: number;
  /** a number is PyTorch's symmetric padding, run through conv2dTorch */
  pad: number | 'same' | 'valid';
}

export function describeCase(cs: ConvGradCase): string {
  return `${cs.h}x${cs.w}x${cs.cin}->${cs.cout} k${cs.k} s${cs.s} pad ${cs.pad}`;
}

/** Distinct conv shapes of the YOLOv5n-shaped network at imgsz 320 (run on the active backend). */
export function yolov5nConvShapes(
  tf: Tf,
): Array<{ inH: number; cin: number; cout: number; k: number; s: number; p: number }> {
  const net = new YoloV5Shaped(tf, YOLOV5N);
  tf.tidy(() => {
    net.forward(tf.zeros([1, 320, 320, 3]));
  });
  net.dispose();
  const distinct = new Map(net.convLog.map((c) => [JSON.stringify(c), c]));
  return [...distinct.values()];
}

export function convGradCases(tf: Tf): ConvGradCase[] {
  const cases: ConvGradCase[] = [];
  for (const shape of yolov5nConvShapes(tf)) {
    const even = Math.min(shape.inH, 6);
    // For a 1x1 conv, PyTorch's 0, 'same' and 'valid' are the same convolution.
    const pads = shape.k === 1 ? (['valid'] as const) : ([shape.p, 'same', 'valid'] as const);
    for (const size of [even, even + 1]) {
      for (const pad of pads) {
        cases.push({ h: size, w: size + 2, cin: shape.cin, cout: shape.cout, k: shape.k, s: shape.s, pad });
      }
    }
  }
  // yolov5l/x's SPPF cv1 (1x1, 1024 -> 512): with oneDNN on, TensorFlow 2.21 dies of SIGFPE
  // here at any spatial size. Last, because it ends the process when it fails.
  cases.push({ h: 4, w: 4, cin: 1024, cout: 512, k: 1, s: 1, pad: 0 });
  return cases;
}

/** [y, dL/dx, dL/dw] for L = sum(y * dy), batch 1, fixed pseudo-random x, w, dy, on the active backend. */
export function convForwardAndGrads(tf: Tf, cs: ConvGradCase): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(cs.h * cs.w * cs.cin, 1), [1, cs.h, cs.w, cs.cin]);
    const w = tf.tensor4d(randomArray(cs.k * cs.k * cs.cin * cs.cout, 2), [cs.k, cs.k, cs.cin, cs.cout]);
    const conv = (xx: Tensor4D, ww: Tensor4D): Tensor4D =>
      typeof cs.pad === 'number' ? conv2dTorch(xx, ww, cs.s, cs.pad) : tf.conv2d(xx, ww, cs.s, cs.pad);
    const y = conv(x, w);
    const dy = tf.tensor(randomArray(y.size, 3), y.shape);
    const [dx, dw] = tf.grads((xx: Tensor, ww: Tensor) => tf.sum(tf.mul(conv(xx as Tensor4D, ww as Tensor4D), dy)))([
      x,
      w,
    ]);
    return [y, dx!, dw!].map((t) => t.dataSync() as Float32Array);
  });
}
