import { tf } from '@yolo-launch/backend';
import type { StateRegistry } from './state.js';

/**
 * models.yolo.Detect: one 1x1 conv (with bias) per detection layer producing na*(5+nc)
 * channels, reshaped to [bs, na, ny, nx, 5+nc]. In PyTorch the channel index is a*no + k;
 * NHWC keeps channels last, so a reshape [.., na, no] is exact before moving na forward.
 *
 * Anchors are held in grid units (model.24.anchors after construction) on the host and
 * as tensors for decoding; strides are set by the model after its dry forward.
 */
export class Detect {
  readonly weights: tf.Variable<tf.Rank.R4>[] = [];
  readonly biases: tf.Variable<tf.Rank.R1>[] = [];
  readonly nl: number;
  readonly na: number;
  readonly no: number;
  /** Anchors in grid units, flat [nl, na, 2]. Pixels before strides are known. */
  anchors: Float32Array;
  stride: number[] = [];
  private grids = new Map<string, tf.Tensor>();

  constructor(
    reg: StateRegistry,
    readonly prefix: string,
    readonly nc: number,
    anchorsPixels: number[][],
    readonly ch: number[],
  ) {
    this.nl = anchorsPixels.length;
    this.na = Math.floor(anchorsPixels[0]!.length / 2);
    this.no = nc + 5;
    this.anchors = Float32Array.from(anchorsPixels.flat());
    if (ch.length !== this.nl) throw new Error(`Detect: ${ch.length} inputs but ${this.nl} anchor rows`);
    reg.host(
      `${prefix}.anchors`,
      'anchors',
      [this.nl, this.na, 2],
      () => Float32Array.from(this.anchors),
      (d) => {
        this.anchors = Float32Array.from(d);
        this.clearCache();
      },
    );
    ch.forEach((c, i) => {
      this.weights.push(reg.convWeight(`${prefix}.m.${i}.weight`, [this.no * this.na, c, 1, 1]));
      const bound = 1 / Math.sqrt(c);
      const b = new Float32Array(this.no * this.na);
      for (let k = 0; k < b.length; k++) b[k] = reg.rng.uniform(-bound, bound);
      this.biases.push(reg.vector(`${prefix}.m.${i}.bias`, 'conv.bias', b, true));
    });
  }

  /**
   * Detect._initialize_biases (cf=None): obj += log(8/(640/s)^2) (8 objects per 640 image),
   * cls += log(0.6/(nc - 0.99999)). Adds to the current (random) biases like upstream.
   */
  static biasDelta(nc: number, na: number, stride: number): Float32Array {
    const no = nc + 5;
    const d = new Float32Array(na * no);
    for (let a = 0; a < na; a++) {
      d[a * no + 4] = Math.log(8 / (640 / stride) ** 2);
      for (let c = 0; c < nc; c++) d[a * no + 5 + c] = Math.log(0.6 / (nc - 0.99999));
    }
    return d;
  }

  initializeBiases(): void {
    this.biases.forEach((b, i) => {
      const delta = Detect.biasDelta(this.nc, this.na, this.stride[i]!);
      tf.tidy(() => b.assign(tf.add(b, tf.tensor1d(delta))));
    });
  }

  /** Raw per-layer outputs [bs, na, ny, nx, no] (logits). */
  forwardRaw(xs: tf.Tensor4D[]): tf.Tensor5D[] {
    return xs.map((x, i) => {
      const y = tf.fused.conv2d({ x, filter: this.weights[i]!, strides: 1, pad: 'valid', bias: this.biases[i]! });
      const [bs, ny, nx] = y.shape;
      return tf.transpose(tf.reshape(y, [bs, ny, nx, this.na, this.no]), [0, 3, 1, 2, 4]) as tf.Tensor5D;
    });
  }

  /**
   * Inference decoding: xy = (2*sigmoid + grid - 0.5)*stride, wh = (2*sigmoid)^2 * anchor_pixels,
   * obj/cls = sigmoid; rows a*ny*nx + gy*nx + gx per layer, layers concatenated.
   */
  decode(raw: tf.Tensor5D[]): tf.Tensor3D {
    if (this.stride.length !== this.nl) throw new Error('Detect.decode: strides are not set (build the model first)');
    const parts = raw.map((r, i) => {
      const [bs, na, ny, nx, no] = r.shape;
      const { grid, anchorGrid } = this.gridFor(i, ny, nx);
      const s = tf.sigmoid(r);
      const [xy, wh, conf] = tf.split(s, [2, 2, no - 4], 4);
      const xyd = tf.mul(tf.add(tf.mul(xy!, 2), grid), this.stride[i]!);
      const whd = tf.mul(tf.square(tf.mul(wh!, 2)), anchorGrid);
      return tf.reshape(tf.concat([xyd, whd, conf!], 4), [bs, na * ny * nx, no]);
    });
    return tf.concat(parts, 1) as tf.Tensor3D;
  }

  /** grid [1,1,ny,nx,2] = (gx - 0.5, gy - 0.5); anchor_grid [1,na,1,1,2] in pixels. Cached. */
  private gridFor(i: number, ny: number, nx: number): { grid: tf.Tensor; anchorGrid: tf.Tensor } {
    const key = `${i}:${ny}:${nx}`;
    let grid = this.grids.get(key);
    if (!grid) {
      const g = new Float32Array(ny * nx * 2);
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          g[(y * nx + x) * 2] = x - 0.5;
          g[(y * nx + x) * 2 + 1] = y - 0.5;
        }
      grid = tf.keep(tf.tensor5d(g, [1, 1, ny, nx, 2]));
      this.grids.set(key, grid);
    }
    const akey = `anchor:${i}`;
    let anchorGrid = this.grids.get(akey);
    if (!anchorGrid) {
      const a = new Float32Array(this.na * 2);
      for (let k = 0; k < this.na * 2; k++) a[k] = this.anchors[i * this.na * 2 + k]! * this.stride[i]!;
      anchorGrid = tf.keep(tf.tensor5d(a, [1, this.na, 1, 1, 2]));
      this.grids.set(akey, anchorGrid);
    }
    return { grid, anchorGrid };
  }

  clearCache(): void {
    for (const t of this.grids.values()) t.dispose();
    this.grids.clear();
  }
}
