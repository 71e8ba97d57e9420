// wasm's own kernels that ours replace. Ours handle the hot cases and hand the rest back
// to these. They were unregistered before the wasm backend initialised, so their setup
// (which binds the C++ entry points) has to be run by us, once per backend instance.
import type { KernelConfig, KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

const replaced = new Map<string, KernelConfig>();
const setUp = new WeakMap<KernelBackend, Set<string>>();

export function rememberReplaced(config: KernelConfig): void {
  replaced.set(config.kernelName, config);
}

/** wasm's own kernel that ours replaced, if any. */
export function replacedWasmKernel(kernelName: string): KernelConfig | undefined {
  return replaced.get(kernelName);
}

export function runReplaced(
  kernelName: string,
  args: { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs?: NamedAttrMap },
): TensorInfo | TensorInfo[] {
  const config = replaced.get(kernelName);
  if (config == null) throw new Error(`no replaced wasm kernel ${kernelName}`);
  let done = setUp.get(args.backend);
  if (done == null) setUp.set(args.backend, (done = new Set()));
  if (!done.has(kernelName)) {
    config.setupFunc?.(args.backend);
    done.add(kernelName);
  }
  return config.kernelFunc({ inputs: args.inputs, backend: args.backend, attrs: args.attrs ?? {} });
}
