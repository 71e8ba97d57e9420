// The guard in backend selection: tfjs-node-gpu must prove that ops run on a GPU, or stop with
// the reasons, unless the CPU was asked for. The 'tensorflow' backend is faked (the cpu kernels
// under its name, with the device flags tfjs-node reports); the machine's facts are recorded
// outputs (test/fixtures/gpu).
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  backendChoice,
  GpuUnavailableError,
  initBackend,
  tf,
  TFJS_NODE_GPU,
  type BackendLogger,
  type ModuleLoader,
} from '../src/index.js';
import { copyCpuKernelsToTensorflow, fakeTensorflow } from './fake_tensorflow.js';
import { recordedSources, type RecordedMachine } from './recorded_gpu.js';

function logger(): BackendLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(`WARNING ${m}`) };
}

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /x.js`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

function gpuPackage(isUsingGpuDevice: boolean): ModuleLoader {
  const install = fakeTensorflow({ isGPUPackage: true, isUsingGpuDevice });
  return async (specifier) => {
    if (specifier !== TFJS_NODE_GPU) throw notFound(specifier);
    install();
    return {};
  };
}

const H100_IMAGE: RecordedMachine = { smi: [{ file: 'smi-h100x8.csv' }], ldconfig: 'ldconfig-cuda112-cudnn8.txt' };

afterEach(async () => {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
  await tf.setBackend('wasm');
});

test('a GPU that runs the probe ops is taken; the JIT-cache notice comes once per node, before loading', async () => {
  const log = logger();
  const sources = recordedSources(H100_IMAGE);
  await initBackend({ loader: gpuPackage(true), logger: log, env: { CUDA_CACHE_PATH: '/cache' }, gpuSources: sources });
  assert.equal(backendChoice()?.gpu, true);
  assert.equal(
    log.lines.filter((l) => l.startsWith('notice: TensorFlow 2.9 has no machine code for NVIDIA H100 80GB HBM3'))
      .length,
    1,
    log.lines.join('\n'),
  );
  assert.ok(log.lines.some((l) => l.includes('CUDA GPU')));

  const rank1 = logger();
  await initBackend({
    loader: gpuPackage(true),
    logger: rank1,
    env: { LOCAL_RANK: '1', CUDA_CACHE_PATH: '/cache' },
    gpuSources: recordedSources(H100_IMAGE),
  });
  assert.ok(!rank1.lines.some((l) => l.startsWith('notice:')), 'local ranks > 0 stay quiet');
});

test('tfjs-node-gpu on the CPU stops the run and says why (cuDNN missing)', async () => {
  const sources = recordedSources({ smi: [{ file: 'smi-l4x2.csv' }], ldconfig: 'ldconfig-cuda112-no-cudnn.txt' });
  const error = await initBackend({ loader: gpuPackage(false), logger: logger(), env: {}, gpuSources: sources }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error instanceof GpuUnavailableError, String(error));
  assert.deepEqual(error.reasons, [
    'libcudnn.so.8 (cuDNN 8) not found on LD_LIBRARY_PATH or in the loader cache: TensorFlow 2.9 needs CUDA 11.2 and cuDNN 8.1 (the nvidia/cuda:11.2.2-cudnn8-runtime image has them)',
  ]);
  assert.match(error.message, /NOT running on a GPU[\s\S]*--device cpu to train on the CPU deliberately/);
});

test('the reasons: no driver, a CUDA_VISIBLE_DEVICES that names no GPU, an old driver', async () => {
  const reasonsFor = async (machine: RecordedMachine, env: Record<string, string>): Promise<string[]> => {
    const error = await initBackend({
      loader: gpuPackage(false),
      logger: logger(),
      env,
      gpuSources: recordedSources(machine),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof GpuUnavailableError);
    return error.reasons;
  };
  const noDriver = await reasonsFor(
    { smi: [{ file: 'smi-no-driver.txt', status: 9 }], ldconfig: 'ldconfig-host-no-cuda.txt' },
    {},
  );
  assert.match(noDriver[0]!, /nvidia-smi failed: NVIDIA-SMI has failed/);
  assert.match(noDriver[1]!, /libcuda\.so\.1 \(the NVIDIA driver\) was not found/);
  assert.match(
    noDriver[2]!,
    /libcudart\.so\.11\.0 \(CUDA 11 runtime\), libcublas\.so\.11 .*libcudnn\.so\.8 \(cuDNN 8\) not found/,
  );

  const wrongIndex = await reasonsFor(
    { smi: [{ file: 'smi-l4x2.csv' }], ldconfig: 'ldconfig-cuda112-cudnn8.txt' },
    { CUDA_VISIBLE_DEVICES: '1,7' },
  );
  assert.deepEqual(wrongIndex, ['CUDA_VISIBLE_DEVICES=1,7 names 7, which nvidia-smi does not list (it lists 0, 1)']);

  const oldDriver = await reasonsFor(
    { smi: [{ file: 'smi-old-driver.csv' }], ldconfig: 'ldconfig-cuda112-cudnn8.txt' },
    {},
  );
  assert.deepEqual(oldDriver, ['NVIDIA driver 450.51.06 is older than 460.32.03, the oldest that runs CUDA 11.2']);

  const unexplained = await reasonsFor(H100_IMAGE, {});
  assert.match(unexplained[0]!, /look right; TensorFlow's own log \(`yolo-launch doctor`\)/);
});

test('--device cpu (or CUDA_VISIBLE_DEVICES=-1) runs tfjs-node-gpu on the CPU deliberately', async () => {
  const env: Record<string, string | undefined> = {};
  const sources = recordedSources(H100_IMAGE);
  await initBackend({ loader: gpuPackage(false), logger: logger(), env, device: 'cpu', gpuSources: sources });
  assert.equal(env.CUDA_VISIBLE_DEVICES, '-1', 'set before the package loads, as select_device does');
  assert.equal(backendChoice()?.gpu, false);
  assert.deepEqual(sources.calls, [], 'a CPU run does not ask nvidia-smi');
  await initBackend({
    loader: gpuPackage(false),
    logger: logger(),
    env: { CUDA_VISIBLE_DEVICES: '-1' },
    gpuSources: recordedSources(H100_IMAGE),
  });
  assert.equal(backendChoice()?.package, TFJS_NODE_GPU);
});

test('a GPU request is only met by tfjs-node-gpu', async () => {
  await assert.rejects(
    initBackend({ backend: 'wasm', device: '0', logger: logger(), env: {} }),
    /--device 0 asks for a GPU, but the chosen backend \(wasm\) cannot use one/,
  );
  await assert.rejects(
    initBackend({
      device: 'gpu',
      loader: async (s) => {
        throw notFound(s);
      },
      logger: logger(),
      env: {},
    }),
    /no usable backend[\s\S]*tfjs-node-gpu: .*not installed/,
  );
});

test('a GPU device whose ops fail (no kernel image for the GPU) stops the run with the meaning', async () => {
  copyCpuKernelsToTensorflow();
  const matMul = tf.getKernel('BatchMatMul', 'tensorflow')!;
  tf.unregisterKernel('BatchMatMul', 'tensorflow');
  tf.registerKernel({
    ...matMul,
    kernelFunc: () => {
      throw new Error('CUDA error: no kernel image is available for execution on the device');
    },
  });
  try {
    const error = await initBackend({
      loader: gpuPackage(true),
      logger: logger(),
      env: {},
      gpuSources: recordedSources(H100_IMAGE),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof GpuUnavailableError);
    assert.match(error.reasons[0]!, /the GPU cannot run TensorFlow 2\.9's kernels \(CUDA error: no kernel image/);
  } finally {
    tf.unregisterKernel('BatchMatMul', 'tensorflow');
    tf.registerKernel(matMul);
  }
});
