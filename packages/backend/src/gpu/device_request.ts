// train.py's --device, as YOLOv5's select_device reads it: '' (whatever is there), 'cpu', or
// CUDA device indices ('0', '0,1,2,3', 'cuda:0'). 'cpu' hides the GPUs from TensorFlow the same
// way YOLOv5 hides them from torch: CUDA_VISIBLE_DEVICES=-1, set before the GPU package loads.
import { isLaunchedWorker } from '@yolo-launch/core';

export type DeviceRequest =
  | { kind: 'any' }
  | { kind: 'cpu' }
  /** indices: the CUDA devices asked for, null for "a GPU" */
  | { kind: 'gpu'; indices: string[] | null };

export function parseDeviceRequest(raw: string | undefined): DeviceRequest {
  const device = (raw ?? '')
    .trim()
    .toLowerCase()
    .replace(/^cuda:/, '')
    .replace(/^none$/, '');
  if (device === '') return { kind: 'any' };
  if (device === 'cpu') return { kind: 'cpu' };
  if (device === 'gpu' || device === 'cuda') return { kind: 'gpu', indices: null };
  if (/^\d+(\s*,\s*\d+)*$/.test(device)) return { kind: 'gpu', indices: device.split(',').map((d) => d.trim()) };
  throw new Error(
    `--device ${JSON.stringify(raw)} is not a device: use cpu, a CUDA device index (0) or a list (0,1,2,3)`,
  );
}

/** CUDA_VISIBLE_DEVICES that hides every GPU: the launcher's and TensorFlow's "CPU run". */
export function hidesAllGpus(visible: string | undefined): boolean {
  return visible !== undefined && (visible.trim() === '' || visible.trim() === '-1');
}

/** True when the GPUs are deliberately not used: --device cpu, or CUDA_VISIBLE_DEVICES empty or -1. */
export function cpuRequested(request: DeviceRequest, env: Record<string, string | undefined>): boolean {
  return request.kind === 'cpu' || (request.kind === 'any' && hidesAllGpus(env.CUDA_VISIBLE_DEVICES));
}

/**
 * Sets what must be set before TensorFlow loads: CUDA_VISIBLE_DEVICES=-1 for 'cpu'; for device
 * indices in a single process (no launcher, which gives each worker its own device), the list
 * itself, as select_device does. Returns what it changed, for the log.
 */
export function applyDeviceRequest(request: DeviceRequest, env: Record<string, string | undefined>): string | null {
  if (request.kind === 'cpu' && env.CUDA_VISIBLE_DEVICES !== '-1') {
    env.CUDA_VISIBLE_DEVICES = '-1';
    return '--device cpu: CUDA_VISIBLE_DEVICES=-1 (TensorFlow sees no GPU)';
  }
  if (request.kind === 'gpu' && request.indices && !isLaunchedWorker(env) && env.CUDA_VISIBLE_DEVICES === undefined) {
    env.CUDA_VISIBLE_DEVICES = request.indices.join(',');
    return `--device ${request.indices.join(',')}: CUDA_VISIBLE_DEVICES=${env.CUDA_VISIBLE_DEVICES}`;
  }
  return null;
}

/** The packages a run may take for its device: a GPU request can only be met by tfjs-node-gpu. */
export function candidatesForDevice(
  candidates: readonly string[],
  request: DeviceRequest,
  gpuPackage: string,
): string[] {
  if (request.kind !== 'gpu') return [...candidates];
  if (!candidates.includes(gpuPackage)) {
    throw new Error(
      `--device ${request.indices?.join(',') ?? 'gpu'} asks for a GPU, but the chosen backend (${candidates.join(', ')}) cannot use one: use --backend tensorflow (or auto) with ${gpuPackage}`,
    );
  }
  return [gpuPackage];
}
