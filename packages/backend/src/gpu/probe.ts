// Proof that ops run, and where. tfjs-node's binding reports isUsingGpuDevice() when
// TensorFlow's eager context lists a GPU device; it then copies every float tensor it creates
// onto that device, so an op on float inputs with a GPU kernel (MatMul: cuBLAS, Conv2D: cuDNN)
// executes there. Running both and checking their values proves the GPU path computes: a
// missing or unusable kernel ("no kernel image is available", CUDNN_STATUS_*) throws, and a
// wrong result is caught. Inputs are small integers, exact in float32 and in TF32 (the default
// for matmul and conv on Ampere and newer).
import type * as tfc from '@tensorflow/tfjs-core';

/** What tfjs-node's backend object tells about its device (NodeJSKernelBackend's fields). */
export interface NodeBackendFlags {
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
}

export type ProbeResult = { ok: true; ops: string[] } | { ok: false; error: string };

function integers(count: number, seed: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => ((i * 7 + seed * 3) % 5) - 2);
}

function matMulReference(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return out;
}

/** NHWC input [1,h,w,c] with HWIO filter [kh,kw,c,o], stride 1, 'valid'. */
function convReference(
  x: Float32Array,
  f: Float32Array,
  h: number,
  w: number,
  c: number,
  kernel: number,
  o: number,
): Float32Array {
  const oh = h - kernel + 1;
  const ow = w - kernel + 1;
  const out = new Float32Array(oh * ow * o);
  for (let y = 0; y < oh; y++)
    for (let xx = 0; xx < ow; xx++)
      for (let q = 0; q < o; q++)
        for (let i = 0; i < kernel; i++)
          for (let j = 0; j < kernel; j++)
            for (let ch = 0; ch < c; ch++)
              out[(y * ow + xx) * o + q]! +=
                x[((y + i) * w + xx + j) * c + ch]! * f[((i * kernel + j) * c + ch) * o + q]!;
  return out;
}

function firstMismatch(actual: ArrayLike<number>, expected: Float32Array): number {
  for (let i = 0; i < expected.length; i++) if (Math.abs(actual[i]! - expected[i]!) > 1e-3) return i;
  return actual.length === expected.length ? -1 : expected.length;
}

/** Runs a MatMul and a Conv2D on the active backend and checks their values. */
export async function probeOps(tf: typeof tfc): Promise<ProbeResult> {
  const [m, k, n] = [64, 96, 32];
  const [h, w, c, kernel, o] = [9, 7, 8, 3, 4];
  const a = integers(m * k, 1);
  const b = integers(k * n, 2);
  const x = integers(h * w * c, 3);
  const f = integers(kernel * kernel * c * o, 4);
  try {
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])));
    const conv = tf.tidy(() =>
      tf.conv2d(tf.tensor4d(x, [1, h, w, c]), tf.tensor4d(f, [kernel, kernel, c, o]), 1, 'valid'),
    );
    const [productValues, convValues] = await Promise.all([product.data(), conv.data()]);
    tf.dispose([product, conv]);
    const badProduct = firstMismatch(productValues, matMulReference(a, b, m, k, n));
    if (badProduct >= 0)
      return { ok: false, error: `MatMul gave a wrong value at element ${badProduct} (${productValues[badProduct]})` };
    const badConv = firstMismatch(convValues, convReference(x, f, h, w, c, kernel, o));
    if (badConv >= 0)
      return { ok: false, error: `Conv2D gave a wrong value at element ${badConv} (${convValues[badConv]})` };
    return { ok: true, ops: ['MatMul', 'Conv2D'] };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

/** What a failing GPU op's error means, in a line that says what to do. */
export function explainProbeError(error: string): string {
  if (/no kernel image is available|CUDA_ERROR_INVALID_PTX|INVALID_SOURCE|NO_BINARY_FOR_GPU/i.test(error)) {
    return `the GPU cannot run TensorFlow 2.9's kernels (${error}): its PTX needs a driver that can JIT-compile it (>= 525 for H100/L4), see the JIT-cache notes in deploy/README.md`;
  }
  if (/CUDNN_STATUS|cuDNN|DNN library/i.test(error))
    return `cuDNN failed (${error}): TensorFlow 2.9 needs cuDNN 8.1 or a later 8.x, and GPU memory left for its workspace`;
  if (/out of memory|OOM|RESOURCE_EXHAUSTED/i.test(error))
    return `the GPU is out of memory (${error}): another process holds it (nvidia-smi), or set TF_FORCE_GPU_ALLOW_GROWTH=true`;
  return `an op on the GPU failed: ${error}`;
}
