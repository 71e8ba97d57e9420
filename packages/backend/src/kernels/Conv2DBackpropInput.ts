// Conv2DBackpropInput for wasm, as forward convolutions of dy plus a pixel shuffle.
//
// Along one spatial dim (input size H, output size OH, kernel k, stride s, pad-before p),
// write each dx row as h = u*s + r (block u, phase r). Row h was read by output rows
// oh = u + o with tap i = r + p - o*s, for the offsets o in [oMin, oMax] that give a valid
// tap. So every phase is a stride-1 correlation of dy over a window of A = oMax-oMin+1 rows
// starting at u + oMin, with a phase-specific sub-filter (the polyphase decomposition of the
// transposed convolution). Stacking the s*s phases' sub-filters as output channels gives one
// [Ah, Aw, K, sh*sw*C] filter; one wasm (XNNPACK) convolution of dy computes every phase, and
// a reshape/transpose interleaves the phases back into rows and columns (depth-to-space).
// For stride 1 this is the textbook "convolve dy with the flipped, transposed filter".
// When the stride does not divide the kernel, the combined filter holds zero taps (16 for a
// 3x3 stride-2 kernel's 9); then, with enough channels, each phase gets its own exact-size
// convolution and one JS pass interleaves them (stridedInputGrad).
// wasm's own Conv2DBackpropInput is a naive loop, ~10x slower than its forward conv.
import {
  backend_util,
  Conv2DBackpropInput,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import {
  conv2d,
  cropNegativePadding,
  heapF32,
  release,
  reshape,
  slice,
  transpose,
  type Pad1D,
  type WasmBackend,
} from './wasm_calls.js';
import { runOnCpu } from './cpu_bridge.js';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** The polyphase plan of one spatial dimension. */
export interface PhasePlan {
  stride: number;
  /** window length of the combined sub-filters */
  taps: number;
  /** dy offset of the first tap relative to the output block */
  firstOffset: number;
  /** number of output blocks (ceil(H / s)); the last may be partial */
  blocks: number;
  /** padding of dy that makes a stride-1 VALID conv produce `blocks` outputs */
  pad: Pad1D;
}

export function planPhases(
  inSize: number,
  outSize: number,
  kernel: number,
  stride: number,
  padBefore: number,
): PhasePlan {
  const oMin = Math.ceil((padBefore - kernel + 1) / stride);
  const oMax = Math.floor((stride - 1 + padBefore) / stride);
  const blocks = Math.ceil(inSize / stride);
  return {
    stride,
    taps: oMax - oMin + 1,
    firstOffset: oMin,
    blocks,
    pad: { before: -oMin, after: blocks + oMax - outSize },
  };
}

/**
 * Builds the combined filter [Ah, Aw, K, sh*sw*C] from W [kh, kw, C, K]:
 * F[t, v, k, (rh*sw + rw)*C + c] = W[rh + ph - (oMinH + t)*sh, rw + pw - (oMinW + v)*sw, c, k] (0 outside).
 */
export function fillPolyphaseFilter(
  w: Float32Array,
  kh: number,
  kw: number,
  c: number,
  k: number,
  planH: PhasePlan,
  planW: PhasePlan,
  padTop: number,
  padLeft: number,
  out: Float32Array,
): void {
  out.fill(0);
  const sh = planH.stride,
    sw = planW.stride,
    phases = sh * sw;
  const ah = planH.taps,
    aw = planW.taps;
  for (let t = 0; t < ah; t++) {
    for (let v = 0; v < aw; v++) {
      for (let rh = 0; rh < sh; rh++) {
        const i = rh + padTop - (planH.firstOffset + t) * sh;
        if (i < 0 || i >= kh) continue;
        for (let rw = 0; rw < sw; rw++) {
          const j = rw + padLeft - (planW.firstOffset + v) * sw;
          if (j < 0 || j >= kw) continue;
          const p = rh * sw + rw;
          const src = (i * kw + j) * c * k; // W[i, j, :, :]
          const dst = (t * aw + v) * k * phases * c + p * c; // F[t, v, 0, p*C]
          for (let cc = 0; cc < c; cc++) {
            const srcRow = src + cc * k;
            let d = dst + cc;
            for (let kk = 0; kk < k; kk++, d += phases * c) out[d] = w[srcRow + kk];
          }
        }
      }
    }
  }
}

/** The sizes of dx = input (n, h, w), dy = output (oh, ow), the strides and the padding before, as the comments name them. */
interface Geometry {
  n: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
}

function geometryOf(info: backend_util.Conv2DInfo): Geometry {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    oh: info.outHeight,
    ow: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** The taps of one phase along one dim: dy offsets [first, first+count) relative to the block. */
interface PhaseTaps {
  first: number;
  count: number;
}

function phaseTaps(phase: number, kernel: number, stride: number, padBefore: number): PhaseTaps {
  // tap i = phase + pad - o*stride must lie in [0, kernel)
  const first = Math.ceil((phase + padBefore - kernel + 1) / stride);
  const last = Math.floor((phase + padBefore) / stride);
  return { first, count: Math.max(0, last - first + 1) };
}

/**
 * Strided convolutions: one exact-size stride-1 convolution per phase (no zero taps: a
 * 3x3 stride-2 layer's phases are 1x1, 1x2, 2x1 and 2x2, 9 taps in all, where the combined
 * filter would hold 16), then one JS pass that interleaves the phases into dx.
 */
function stridedInputGrad(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, geometry: Geometry): TensorInfo {
  const [kh, kw, c, k] = filter.shape as [number, number, number, number];
  const { n, h, w, oh, ow, sh, sw, padTop: pt, padLeft: pl } = geometry;
  const u = Math.ceil(h / sh),
    v = Math.ceil(w / sw);
  const phases: (TensorInfo | null)[] = [];
  for (let rh = 0; rh < sh; rh++) {
    const th = phaseTaps(rh, kh, sh, pt);
    for (let rw = 0; rw < sw; rw++) {
      const tw = phaseTaps(rw, kw, sw, pl);
      if (th.count === 0 || tw.count === 0) {
        phases.push(null); // no tap of the kernel lands on these rows/cols: zero gradient
        continue;
      }
      const sub = backend.makeOutput([th.count, tw.count, k, c], 'float32');
      const wv = heapF32(backend, filter),
        fv = heapF32(backend, sub);
      for (let t = 0; t < th.count; t++) {
        const i = rh + pt - (th.first + t) * sh;
        for (let q = 0; q < tw.count; q++) {
          const j = rw + pl - (tw.first + q) * sw;
          const src = (i * kw + j) * c * k,
            dst = (t * tw.count + q) * k * c;
          for (let cc = 0; cc < c; cc++) for (let kk = 0; kk < k; kk++) fv[dst + kk * c + cc] = wv[src + cc * k + kk];
        }
      }
      const padH: Pad1D = { before: -th.first, after: u + th.first + th.count - 1 - oh };
      const padW: Pad1D = { before: -tw.first, after: v + tw.first + tw.count - 1 - ow };
      const crop = cropNegativePadding(backend, dy, padH, padW);
      phases.push(conv2d(backend, crop.x, sub, [1, 1], [1, 1], crop.padH, crop.padW)); // [N, U, V, C]
      release(backend, sub);
      if (crop.owned) release(backend, crop.x);
    }
  }
  const dx = backend.makeOutput([n, h, w, c], 'float32');
  const out = heapF32(backend, dx);
  const views = phases.map((p) => (p == null ? null : heapF32(backend, p)));
  for (let b = 0; b < n; b++) {
    for (let by = 0, y = 0; by < u; by++) {
      for (let rh = 0; rh < sh && y < h; rh++, y++) {
        const rowOut = (b * h + y) * w * c;
        const rowIn = (b * u + by) * v * c;
        for (let rw = 0; rw < sw; rw++) {
          const src = views[rh * sw + rw];
          const step = sw * c;
          if (src == null) {
            for (let x = rw, d = rowOut + rw * c; x < w; x += sw, d += step) out.fill(0, d, d + c);
            continue;
          }
          for (let x = rw, d = rowOut + rw * c, s0 = rowIn; x < w; x += sw, d += step, s0 += c) {
            for (let cc = 0; cc < c; cc++) out[d + cc] = src[s0 + cc];
          }
        }
      }
    }
  }
  for (const p of phases) if (p != null) release(backend, p);
  return dx;
}

export function conv2DBackpropInputWasm(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: WasmBackend;
  attrs: Attrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  if (attrs.dataFormat === 'NCHW') {
    return runOnCpu(backend, Conv2DBackpropInput, inputs, attrs as unknown as Record<string, unknown>);
  }
  const [kh, kw, c, k] = filter.shape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape,
    [kh, kw, c, k],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const geometry = geometryOf(info);
  const { n, h, w, oh, ow, sh, sw, padTop, padLeft } = geometry;
  const planH = planPhases(h, oh, kh, sh, padTop);
  const planW = planPhases(w, ow, kw, sw, padLeft);
  const phases = sh * sw;
  // The combined filter wastes zero taps unless the stride divides the kernel (the 6x6 s2
  // stem wastes none). The per-phase path pays a JS interleave per dx element, which only
  // pays off with enough channels per pixel (measured: 1.3-1.8x faster from 32 channels up,
  // a wash or worse at 16 and below).
  const combinedTaps = planH.taps * planW.taps * phases;
  if (phases > 1 && combinedTaps > kh * kw && c >= 32) return stridedInputGrad(backend, dy, filter, geometry);

  const combined = backend.makeOutput([planH.taps, planW.taps, k, phases * c], 'float32');
  // Views are taken after makeOutput: allocation may grow (and detach) the wasm heap.
  fillPolyphaseFilter(
    heapF32(backend, filter),
    kh,
    kw,
    c,
    k,
    planH,
    planW,
    padTop,
    padLeft,
    heapF32(backend, combined),
  );

  const crop = cropNegativePadding(backend, dy, planH.pad, planW.pad);
  const shuffled = conv2d(backend, crop.x, combined, [1, 1], [1, 1], crop.padH, crop.padW); // [N, U, V, P*C]
  release(backend, combined);
  if (crop.owned) release(backend, crop.x);

  let dx = shuffled;
  if (phases > 1) {
    // depth-to-space: [N*U, V, sh, sw*C] -> [N*U, sh, V, sw*C] -> [N, U*sh, V*sw, C]
    const u = planH.blocks,
      v = planW.blocks;
    const r1 = reshape(backend, shuffled, [n * u, v, sh, sw * c]);
    const t = transpose(backend, r1, [0, 2, 1, 3]);
    dx = reshape(backend, t, [n, u * sh, v * sw, c]);
    release(backend, shuffled, r1, t);
  }
  if (dx.shape[1] !== h || dx.shape[2] !== w) {
    // the last block of an odd-sized input is partial
    const cropped = slice(backend, dx, [0, 0, 0, 0], [n, h, w, c]);
    release(backend, dx);
    dx = cropped;
  }
  return dx;
}

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInputWasm as unknown as KernelFunc,
};
