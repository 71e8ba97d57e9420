// Skeleton: the backend issue (#4) replaces this with real selection and our own kernels.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';

export { tf };
export type Tf = typeof tf;
export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface InitBackendOptions {
  backend?: BackendName;
}

export async function initBackend(options: InitBackendOptions = {}): Promise<Tf> {
  const wanted = options.backend ?? (process.env.YOLO_BACKEND as BackendName | undefined) ?? 'auto';
  const name = wanted === 'cpu' ? 'cpu' : 'wasm';
  await tf.setBackend(name);
  await tf.ready();
  return tf;
}
