// A YOLOv5-shaped network built from plain tfjs ops (used by the tests and by bench/) (conv, BatchNorm, SiLU, max-pool,
// nearest upsample, concat), layer for layer as models/yolov5n.yaml (v6.0: 6x6 stem, C3,
// SPPF, PANet head, 1x1 Detect convs). It exists so the backend can measure and test a real
// training step before (and independently of) @yolo-launch/yolo. No anchors or loss logic:
// the "loss" is a fixed quadratic + a gather (to exercise the gather gradient).
import { batchNormTrain, silu, type Tf } from '../src/index.js';
import type * as tfc from '@tensorflow/tfjs-core';

type Tensor4D = tfc.Tensor4D;

export interface NetConfig {
  /** width_multiple (n 0.25, s 0.5) */
  width: number;
  /** depth_multiple (n 0.33, s 0.33) */
  depth: number;
  classes: number;
  /** BN + SiLU as plain ops (tf.moments + tf.batchNorm, x*sigmoid(x)) or our batchNormTrain + silu */
  bn: 'moments' | 'fused';
}

export const YOLOV5N: NetConfig = { width: 0.25, depth: 0.33, classes: 80, bn: 'fused' };

export interface ConvShape {
  inH: number;
  inW: number;
  cin: number;
  cout: number;
  k: number;
  s: number;
  p: number;
}

interface ConvLayer {
  w: tfc.Variable;
  gamma: tfc.Variable;
  beta: tfc.Variable;
  k: number;
  s: number;
  p: number;
}

const divisible = (x: number) => Math.ceil(x / 8) * 8;

export class YoloV5Shaped {
  readonly params: tfc.Variable[] = [];
  /** every conv call of the last forward pass, in order */
  readonly convLog: ConvShape[] = [];
  private readonly layers: ConvLayer[] = [];
  private cursor = 0;
  private seed = 1;

  constructor(
    private readonly tf: Tf,
    readonly cfg: NetConfig = YOLOV5N,
  ) {}

  private ch(c: number) {
    return divisible(c * this.cfg.width);
  }
  private n(k: number) {
    return Math.max(Math.round(k * this.cfg.depth), 1);
  }

  /** Conv = Conv2d(bias=False) + BatchNorm2d (batch statistics) + SiLU, created on first use. */
  private conv(x: Tensor4D, cout: number, k: number, s = 1, p = Math.floor(k / 2), act = true, bias = false): Tensor4D {
    const tf = this.tf;
    const cin = x.shape[3];
    if (this.cursor === this.layers.length) {
      const fanIn = cin * k * k;
      const w = tf.variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / fanIn), 'float32', this.seed++));
      const gamma = tf.variable(tf.ones([cout]));
      const beta = tf.variable(tf.zeros([cout]));
      this.layers.push({ w, gamma, beta, k, s, p });
      this.params.push(w, gamma, beta);
    }
    const layer = this.layers[this.cursor++];
    this.convLog.push({ inH: x.shape[1], inW: x.shape[2], cin, cout, k, s, p });
    let y: Tensor4D = tf.conv2d(x, layer.w as unknown as tfc.Tensor4D, s, p);
    if (bias) return tf.add(y, layer.beta) as Tensor4D;
    if (this.cfg.bn === 'fused') {
      y = batchNormTrain(y, layer.gamma as unknown as tfc.Tensor1D, layer.beta as unknown as tfc.Tensor1D, 1e-3).y;
    } else {
      const { mean, variance } = tf.moments(y, [0, 1, 2]);
      y = tf.batchNorm(y, mean, variance, layer.beta, layer.gamma, 1e-3) as Tensor4D;
    }
    if (!act) return y;
    return this.cfg.bn === 'fused' ? silu(y) : tf.mul(y, tf.sigmoid(y));
  }

  private bottleneck(x: Tensor4D, c: number, shortcut: boolean): Tensor4D {
    const y = this.conv(this.conv(x, c, 1), c, 3);
    return shortcut ? this.tf.add(x, y) : y;
  }

  private c3(x: Tensor4D, cout: number, n: number, shortcut = true): Tensor4D {
    const c = cout / 2;
    let a = this.conv(x, c, 1);
    for (let i = 0; i < n; i++) a = this.bottleneck(a, c, shortcut);
    const b = this.conv(x, c, 1);
    return this.conv(this.tf.concat([a, b], 3), cout, 1);
  }

  private sppf(x: Tensor4D, cout: number): Tensor4D {
    const tf = this.tf;
    const a = this.conv(x, x.shape[3] / 2, 1);
    const pool = (t: Tensor4D) => tf.maxPool(t, 5, 1, 2);
    const y1 = pool(a),
      y2 = pool(y1),
      y3 = pool(y2);
    return this.conv(tf.concat([a, y1, y2, y3], 3), cout, 1);
  }

  private up(x: Tensor4D): Tensor4D {
    return this.tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]);
  }

  /** Forward pass: the three Detect outputs [N, H/8|16|32, W/.., 3*(classes+5)]. */
  forward(x: Tensor4D): Tensor4D[] {
    const tf = this.tf;
    this.cursor = 0;
    this.convLog.length = 0;
    const c = (v: number) => this.ch(v);
    const x0 = this.conv(x, c(64), 6, 2, 2);
    const x1 = this.conv(x0, c(128), 3, 2);
    const x2 = this.c3(x1, c(128), this.n(3));
    const x3 = this.conv(x2, c(256), 3, 2);
    const x4 = this.c3(x3, c(256), this.n(6));
    const x5 = this.conv(x4, c(512), 3, 2);
    const x6 = this.c3(x5, c(512), this.n(9));
    const x7 = this.conv(x6, c(1024), 3, 2);
    const x8 = this.c3(x7, c(1024), this.n(3));
    const x9 = this.sppf(x8, c(1024));
    const x10 = this.conv(x9, c(512), 1);
    const x13 = this.c3(tf.concat([this.up(x10), x6], 3), c(512), this.n(3), false);
    const x14 = this.conv(x13, c(256), 1);
    const x17 = this.c3(tf.concat([this.up(x14), x4], 3), c(256), this.n(3), false);
    const x18 = this.conv(x17, c(256), 3, 2);
    const x20 = this.c3(tf.concat([x18, x14], 3), c(512), this.n(3), false);
    const x21 = this.conv(x20, c(512), 3, 2);
    const x23 = this.c3(tf.concat([x21, x10], 3), c(1024), this.n(3), false);
    const no = 3 * (this.cfg.classes + 5);
    return [x17, x20, x23].map((p) => this.conv(p, no, 1, 1, 0, false, true));
  }

  /**
   * A stand-in loss with the same gradient plumbing as YOLO's: sigmoid of every output, a
   * gather of "target" rows (GatherV2 -> UnsortedSegmentSum in backward), means.
   */
  loss(outputs: Tensor4D[]): tfc.Scalar {
    const tf = this.tf;
    const terms = outputs.map((o, i) => {
      const flat = tf.reshape(o, [-1, o.shape[3]]);
      const rows = flat.shape[0];
      const idx = tf.tensor1d([0, Math.floor(rows / 3), Math.floor(rows / 2), rows - 1, 0], 'int32');
      const picked = tf.gather(flat, idx);
      return tf.add(tf.mean(tf.square(tf.sigmoid(o))), tf.mul(tf.mean(tf.square(tf.sub(picked, 0.5 * i))), 0.1));
    });
    return tf.addN(terms) as tfc.Scalar;
  }

  /** One SGD training step; returns the loss value tensor (caller disposes). */
  step(x: Tensor4D, optimizer: tfc.Optimizer): tfc.Scalar {
    const tf = this.tf;
    if (this.params.length === 0)
      tf.tidy(() => {
        this.forward(x);
      }); // creates the variables
    const { value, grads } = tf.variableGrads(() => this.loss(this.forward(x)), this.params);
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return value;
  }

  dispose(): void {
    this.tf.dispose(this.params);
  }
}
