// Backend selection with the optional native packages absent, broken, or present (faked
// through the injectable loader and a registered fake 'tensorflow' backend).
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  tf,
  initBackend,
  backendChoice,
  probeTensorflowBackend,
  resolveRequested,
  TFJS_NODE,
  TFJS_NODE_GPU,
  type BackendLogger,
  type ModuleLoader,
} from '../src/index.js';
import { fakeTensorflow } from './fake_tensorflow.js';

function recordingLogger(): BackendLogger & { infos: string[]; warns: string[] } {
  const infos: string[] = [],
    warns: string[] = [];
  return { infos, warns, info: (m) => infos.push(m), warn: (m) => warns.push(m) };
}

function notFound(specifier: string): Error {
  const e = new Error(`Cannot find package '${specifier}' imported from /x/y.js`) as NodeJS.ErrnoException;
  e.code = 'ERR_MODULE_NOT_FOUND';
  return e;
}

/** A loader where every optional package is absent, except the ones given. */
function loaderWith(present: Record<string, () => void>): ModuleLoader & { asked: string[] } {
  const asked: string[] = [];
  const loader = (async (specifier: string) => {
    asked.push(specifier);
    const install = present[specifier];
    if (install == null) throw notFound(specifier);
    install();
    return {};
  }) as ModuleLoader & { asked: string[] };
  loader.asked = asked;
  return loader;
}

afterEach(async () => {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
  await tf.setBackend('wasm');
});

test('auto with nothing optional installed takes wasm and says why the others were passed over', async () => {
  const logger = recordingLogger();
  const loader = loaderWith({});
  await initBackend({ backend: 'auto', loader, logger, env: {} });
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(loader.asked, [TFJS_NODE_GPU, TFJS_NODE]);
  const choice = backendChoice();
  assert.equal(choice?.backend, 'wasm');
  assert.deepEqual(
    choice?.passedOver.map((p) => p.candidate),
    [TFJS_NODE_GPU, TFJS_NODE],
  );
  assert.match(choice?.passedOver[0].reason ?? '', /not installed/);
  assert.ok(
    logger.infos.some((m) => /backend: wasm/.test(m)),
    logger.infos.join('\n'),
  );
  assert.ok(logger.infos.some((m) => m.includes(`passed over ${TFJS_NODE}`)));
});

test('a package that is present but broken is passed over with its error, not as "absent"', async () => {
  const logger = recordingLogger();
  const loader: ModuleLoader = async (specifier) => {
    if (specifier === TFJS_NODE_GPU) throw new Error("Cannot find module '/x/lib/napi-v8/tfjs_binding.node'");
    throw notFound(specifier);
  };
  await initBackend({ loader, logger, env: {} });
  const choice = backendChoice();
  assert.equal(choice?.backend, 'wasm');
  assert.match(choice?.passedOver[0].reason ?? '', /installed but failed to load: .*tfjs_binding\.node/);
  assert.match(choice?.passedOver[0].reason ?? '', /install script/);
});

test('a package that loads but registers no backend (duplicate tfjs-core) is passed over', async () => {
  const loader = loaderWith({ [TFJS_NODE_GPU]: () => {} });
  await initBackend({ loader, logger: recordingLogger(), env: {} });
  assert.equal(backendChoice()?.backend, 'wasm');
  assert.match(backendChoice()?.passedOver[0].reason ?? '', /registered no 'tensorflow' backend/);
});

test('tfjs-node-gpu on a GPU is taken, with no warning', async () => {
  const logger = recordingLogger();
  const loader = loaderWith({ [TFJS_NODE_GPU]: fakeTensorflow({ isGPUPackage: true, isUsingGpuDevice: true }) });
  await initBackend({ loader, logger, env: {} });
  assert.equal(tf.getBackend(), 'tensorflow');
  assert.deepEqual(
    { ...backendChoice(), passedOver: undefined, warnings: undefined },
    {
      requested: 'auto',
      backend: 'tensorflow',
      package: TFJS_NODE_GPU,
      gpu: true,
      passedOver: undefined,
      warnings: undefined,
    },
  );
  assert.equal(logger.warns.length, 0);
  assert.ok(logger.infos.some((m) => m.includes('CUDA GPU')));
});

test("tfjs-node-gpu's silent CPU fallback stops the run (details: gpu_guard.test.ts)", async () => {
  const loader = loaderWith({ [TFJS_NODE_GPU]: fakeTensorflow({ isGPUPackage: true, isUsingGpuDevice: false }) });
  await assert.rejects(
    initBackend({ loader, logger: recordingLogger(), env: { LD_LIBRARY_PATH: '/nonexistent' } }),
    /NOT running on a GPU/,
  );
});

test('tfjs-node (CPU TensorFlow) is taken when the GPU package is absent', async () => {
  const loader = loaderWith({ [TFJS_NODE]: fakeTensorflow({ isGPUPackage: false, isUsingGpuDevice: false }) });
  const logger = recordingLogger();
  await initBackend({ backend: 'tensorflow', loader, logger, env: {} });
  assert.equal(backendChoice()?.package, TFJS_NODE);
  assert.equal(logger.warns.length, 0, 'the CPU package on the CPU is not a fallback');
});

test("backend 'tensorflow' with neither package installed fails with instructions", async () => {
  await assert.rejects(
    initBackend({ backend: 'tensorflow', loader: loaderWith({}), logger: recordingLogger(), env: {} }),
    /no usable backend for "tensorflow"[\s\S]*tfjs-node-gpu: .*not installed[\s\S]*Install @tensorflow\/tfjs-node-gpu/,
  );
});

test('YOLO_BACKEND picks the backend; bad values are refused with the valid list', async () => {
  assert.equal(resolveRequested({}, { YOLO_BACKEND: 'CPU' }), 'cpu');
  assert.equal(resolveRequested({ backend: 'wasm' }, { YOLO_BACKEND: 'cpu' }), 'wasm');
  assert.equal(resolveRequested({}, {}), 'auto');
  assert.throws(
    () => resolveRequested({}, { YOLO_BACKEND: 'gpu' }),
    /YOLO_BACKEND="gpu" is not a backend; use one of auto, tensorflow, wasm, cpu/,
  );
  const loader = loaderWith({});
  await initBackend({ loader, logger: recordingLogger(), env: { YOLO_BACKEND: 'cpu' } });
  assert.equal(tf.getBackend(), 'cpu');
  assert.deepEqual(loader.asked, [], 'an explicit choice does not probe the optional packages');
});

test('the real loader: auto takes tfjs-node where it loads (npm run setup:tensorflow), else wasm; absent packages are "not installed"', async () => {
  const tensorflow = probeTensorflowBackend();
  const logger = recordingLogger();
  await initBackend({ backend: 'auto', logger, env: {} });
  const choice = backendChoice();
  if (tensorflow.available) {
    assert.equal(choice?.backend, 'tensorflow');
    assert.equal(choice?.package, TFJS_NODE);
    assert.equal(choice?.gpu, false);
    assert.deepEqual(
      choice?.passedOver.map((p) => p.candidate),
      [TFJS_NODE_GPU],
    );
  } else {
    assert.equal(choice?.backend, 'wasm');
  }
  for (const p of choice?.passedOver ?? []) assert.match(p.reason, /not installed/);
});
