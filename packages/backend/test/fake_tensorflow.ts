// A stand-in for tfjs-node's 'tensorflow' backend: the cpu backend's kernels under the name
// 'tensorflow', on a backend object carrying the device flags NodeJSKernelBackend reports.
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { tf } from '../src/index.js';

let kernelsCopied = false;

/** Registers the cpu kernels for 'tensorflow' once per process, so ops (the GPU probe) run. */
export function copyCpuKernelsToTensorflow(): void {
  if (kernelsCopied) return;
  kernelsCopied = true;
  for (const kernel of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(kernel.kernelName, 'tensorflow') === undefined)
      tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
  }
}

/** An install step for a loader: registers a fake 'tensorflow' backend with these flags. */
export function fakeTensorflow(flags: { isGPUPackage: boolean; isUsingGpuDevice: boolean }): () => void {
  return () => {
    copyCpuKernelsToTensorflow();
    tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), flags), 3);
  };
}
