// The GPU facts from recorded outputs: nvidia-smi on H100/H200/L4/A100/T4 servers and old
// drivers, TensorFlow 2.9's start-up log in each failure it has, the loader cache of the CUDA
// images, the JIT rule for GPUs newer than TF 2.9's build, and --device.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyDeviceRequest,
  candidatesForDevice,
  describeGpu,
  findCudaLibraries,
  FULL_FIELDS,
  jitCacheNotice,
  jitCacheState,
  needsPtxJit,
  parseDeviceRequest,
  parseGpuRows,
  parseTfLog,
  queryGpus,
  tfLogReasons,
  versionAtLeast,
  TFJS_NODE_GPU,
  TFJS_NODE,
} from '../src/index.js';
import { fixture, recordedSources } from './recorded_gpu.js';

test('nvidia-smi rows: name, memory, driver, compute capability, bus id', () => {
  const gpus = parseGpuRows(fixture('smi-h100x8.csv'), FULL_FIELDS);
  assert.equal(gpus.length, 8);
  assert.deepEqual(gpus[7], {
    index: 7,
    name: 'NVIDIA H100 80GB HBM3',
    memoryMiB: 81559,
    driverVersion: '535.104.05',
    computeCapability: '9.0',
    pciBusId: '00000000:DB:00.0',
  });
  assert.equal(
    describeGpu(gpus[0]!),
    'GPU 0: NVIDIA H100 80GB HBM3, 80 GiB, compute capability 9.0, driver 535.104.05',
  );
  const l4 = parseGpuRows(fixture('smi-l4x2.csv'), FULL_FIELDS);
  assert.deepEqual(
    l4.map((g) => [g.index, g.computeCapability]),
    [
      [0, '8.9'],
      [1, '8.9'],
    ],
  );
  const odd = parseGpuRows('0, Some, GPU, 1024, 550.1, [N/A], 0000:01:00.0\n', FULL_FIELDS);
  assert.equal(odd[0]!.name, 'Some, GPU', 'a comma in the name stays in the name');
  assert.equal(odd[0]!.computeCapability, null);
});

test('drivers older than 510 refuse compute_cap: asked again without it', () => {
  const sources = recordedSources({
    smi: [{ file: 'smi-legacy-error.txt', status: 2 }, { file: 'smi-legacy-rows.txt' }],
  });
  const answer = queryGpus(sources);
  assert.ok(answer.ok);
  assert.deepEqual(answer.gpus, [
    {
      index: 0,
      name: 'Tesla V100-SXM2-16GB',
      memoryMiB: 16160,
      driverVersion: '460.32.03',
      computeCapability: null,
      pciBusId: '00000000:00:1E.0',
    },
  ]);
  assert.equal(sources.calls.length, 2);
  assert.doesNotMatch(sources.calls[1]!, /compute_cap/);
});

test('no driver, no nvidia-smi: a reason, not a crash', () => {
  const failed = queryGpus(recordedSources({ smi: [{ file: 'smi-no-driver.txt', status: 9 }] }));
  assert.ok(!failed.ok);
  assert.match(
    failed.reason,
    /^nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/,
  );
  const absent = queryGpus(recordedSources({}));
  assert.ok(!absent.ok);
  assert.match(absent.reason, /nvidia-smi not found.*--gpus all/);
});

test('driver versions compare part by part', () => {
  assert.ok(versionAtLeast('535.104.05', '460.32.03'));
  assert.ok(versionAtLeast('460.32.03', '460.32.03'));
  assert.ok(!versionAtLeast('450.51.06', '460.32.03'));
  assert.ok(!versionAtLeast('460.27', '460.32.03'));
});

test('PTX JIT: every GPU without machine code in TF 2.9.1 (sm_35..sm_75 SASS, compute_80 PTX)', () => {
  const table: [string, boolean][] = [
    ['3.5', false],
    ['3.7', false],
    ['5.2', false],
    ['6.1', false],
    ['7.0', false],
    ['7.5', false],
    ['8.0', true],
    ['8.6', true],
    ['8.9', true],
    ['9.0', true],
    ['10.0', true],
  ];
  for (const [cc, jit] of table) assert.equal(needsPtxJit(cc), jit, `compute capability ${cc}`);
});

test('JIT-cache notice: Hopper and Ada with an empty cache, silent otherwise', () => {
  const empty = jitCacheState({ CUDA_CACHE_PATH: '/workspace/cache/cuda' }, recordedSources({}));
  assert.deepEqual(empty, { path: '/workspace/cache/cuda', entries: 0, disabled: false, maxSizeBytes: null });
  for (const file of ['smi-h100x8.csv', 'smi-h200.csv', 'smi-l4x2.csv']) {
    const notice = jitCacheNotice(parseGpuRows(fixture(file), FULL_FIELDS), empty);
    assert.ok(notice, file);
    assert.match(
      notice,
      /^notice: TensorFlow 2\.9 has no machine code for .*compute capability (9\.0|8\.9)\): the driver JIT-compiles .* tens of minutes the first time; the JIT cache \/workspace\/cache\/cuda is empty/,
    );
    assert.match(notice, /CUDA_CACHE_MAXSIZE=4294967296/);
    assert.ok(!notice.includes('\n'), 'one line');
  }
  const h100 = parseGpuRows(fixture('smi-h100x8.csv'), FULL_FIELDS);
  assert.equal((jitCacheNotice(h100, empty)!.match(/H100/g) ?? []).length, 1, 'eight identical GPUs named once');
  assert.equal(
    jitCacheNotice(parseGpuRows(fixture('smi-t4.csv'), FULL_FIELDS), empty),
    null,
    'T4 has sm_75 machine code',
  );
  const warm = jitCacheState(
    { CUDA_CACHE_PATH: '/c', CUDA_CACHE_MAXSIZE: '4294967296' },
    recordedSources({ dirs: { '/c': ['index', 'a1', 'b7'] } }),
  );
  assert.equal(jitCacheNotice(h100, warm), null, 'a filled cache: no notice');
  assert.match(jitCacheNotice(h100, { ...warm, disabled: true })!, /CUDA_CACHE_DISABLE=1 makes every start pay it/);
  assert.match(
    jitCacheNotice(h100, { ...warm, maxSizeBytes: 268435456 })!,
    /CUDA_CACHE_MAXSIZE=268435456 is too small/,
  );
  assert.equal(
    jitCacheState({ HOME: '/home/u' }, recordedSources({})).path,
    '/home/u/.nv/ComputeCache',
    "CUDA's default",
  );
});

test("TensorFlow's log: the created GPU device and the PTX JIT warning (H100)", () => {
  const facts = parseTfLog(fixture('tf-h100-ptx-jit.log'));
  assert.deepEqual(facts.createdGpus, [
    {
      tfDevice: '/job:localhost/replica:0/task:0/device:GPU:0',
      memoryMB: 78856,
      ordinal: 0,
      name: 'NVIDIA H100 80GB HBM3',
      pciBusId: '0000:18:00.0',
      computeCapability: '9.0',
    },
  ]);
  assert.deepEqual(facts.ptxJit, ['9.0']);
  assert.deepEqual(tfLogReasons(facts), []);
  const tf24 = parseTfLog(fixture('tf-t4-tf24.log'));
  assert.equal(tf24.createdGpus[0]?.name, 'Tesla T4');
  assert.equal(tf24.createdGpus[0]?.computeCapability, '7.5');
});

test("TensorFlow's log: each way it falls back to the CPU, with what to do", () => {
  const cudnn = parseTfLog(fixture('tf-no-cudnn.log'));
  assert.deepEqual(
    cudnn.missingLibraries.map((m) => m.library),
    ['libcudnn.so.8'],
  );
  assert.ok(cudnn.skippedGpuRegistration);
  assert.equal(cudnn.createdGpus.length, 0);
  assert.match(
    tfLogReasons(cudnn).join('\n'),
    /could not load libcudnn\.so\.8 \(libcudnn\.so\.8: cannot open shared object file.*CUDA 11\.2 and cuDNN 8\.1/,
  );

  const cudart = parseTfLog(fixture('tf-no-cudart.log'));
  assert.deepEqual(
    cudart.missingLibraries.map((m) => m.library),
    ['libcudart.so.11.0', 'libcublas.so.11', 'libcudnn.so.8'],
  );

  const noDevice = tfLogReasons(parseTfLog(fixture('tf-no-device.log')));
  assert.equal(noDevice.length, 1);
  assert.match(noDevice[0]!, /CUDA found no GPU \(driver 535\.104\.5\): CUDA_VISIBLE_DEVICES names no existing GPU/);

  const noDriver = tfLogReasons(parseTfLog(fixture('tf-no-driver.log')));
  assert.match(noDriver[0]!, /could not load libcuda\.so\.1 \(the NVIDIA driver\).*--gpus all/);

  const old = tfLogReasons(parseTfLog(fixture('tf-old-gpu.log')));
  assert.match(old[0]!, /GeForce GTX 760.*compute capability 3\.0 is below TensorFlow's minimum 3\.5/);
});

test('CUDA libraries: found through the loader cache or LD_LIBRARY_PATH, missing ones named', () => {
  const image = findCudaLibraries({}, recordedSources({ ldconfig: 'ldconfig-cuda112-cudnn8.txt' }));
  assert.deepEqual(
    image.filter((l) => l.path === null),
    [],
  );
  assert.equal(image.find((l) => l.soname === 'libcudnn.so.8')?.path, '/usr/lib/x86_64-linux-gnu/libcudnn.so.8');

  const noCudnn = findCudaLibraries({}, recordedSources({ ldconfig: 'ldconfig-cuda112-no-cudnn.txt' }));
  assert.deepEqual(
    noCudnn.filter((l) => l.path === null).map((l) => l.soname),
    ['libcudnn.so.8'],
  );

  const fromPath = findCudaLibraries(
    { LD_LIBRARY_PATH: '/opt/cudnn/lib:' },
    recordedSources({
      ldconfig: 'ldconfig-cuda112-no-cudnn.txt',
      dirs: { '/opt/cudnn/lib': ['libcudnn.so.8', 'libcudnn.so.8.1.1'] },
    }),
  );
  assert.equal(fromPath.find((l) => l.soname === 'libcudnn.so.8')?.path, '/opt/cudnn/lib/libcudnn.so.8');

  const host = findCudaLibraries({}, recordedSources({ ldconfig: 'ldconfig-host-no-cuda.txt' }));
  assert.equal(host.filter((l) => l.path === null).length, host.length);
  const noLdconfig = findCudaLibraries(
    {},
    recordedSources({ dirs: { '/usr/local/cuda/lib64': ['libcudart.so.11.0'] } }),
  );
  assert.equal(
    noLdconfig.find((l) => l.soname === 'libcudart.so.11.0')?.path,
    '/usr/local/cuda/lib64/libcudart.so.11.0',
    'without ldconfig: the usual directories',
  );
});

test("--device as YOLOv5's select_device reads it", () => {
  assert.deepEqual(parseDeviceRequest(undefined), { kind: 'any' });
  assert.deepEqual(parseDeviceRequest(''), { kind: 'any' });
  assert.deepEqual(parseDeviceRequest('CPU'), { kind: 'cpu' });
  assert.deepEqual(parseDeviceRequest('0,1, 2'), { kind: 'gpu', indices: ['0', '1', '2'] });
  assert.deepEqual(parseDeviceRequest('cuda:3'), { kind: 'gpu', indices: ['3'] });
  assert.deepEqual(parseDeviceRequest('gpu'), { kind: 'gpu', indices: null });
  assert.throws(() => parseDeviceRequest('mps'), /--device "mps" is not a device: use cpu, a CUDA device index/);

  const env: Record<string, string | undefined> = {};
  assert.match(applyDeviceRequest({ kind: 'cpu' }, env)!, /CUDA_VISIBLE_DEVICES=-1/);
  assert.equal(env.CUDA_VISIBLE_DEVICES, '-1');
  const single: Record<string, string | undefined> = {};
  applyDeviceRequest({ kind: 'gpu', indices: ['1', '3'] }, single);
  assert.equal(single.CUDA_VISIBLE_DEVICES, '1,3', 'one process: --device picks the GPUs');
  const worker: Record<string, string | undefined> = { WORLD_SIZE: '2', CUDA_VISIBLE_DEVICES: '5' };
  assert.equal(
    applyDeviceRequest({ kind: 'gpu', indices: ['0'] }, worker),
    null,
    "a launcher's worker keeps its own GPU",
  );
  assert.equal(worker.CUDA_VISIBLE_DEVICES, '5');

  assert.deepEqual(
    candidatesForDevice([TFJS_NODE_GPU, TFJS_NODE, 'wasm', 'cpu'], { kind: 'gpu', indices: null }, TFJS_NODE_GPU),
    [TFJS_NODE_GPU],
  );
  assert.deepEqual(candidatesForDevice(['wasm'], { kind: 'cpu' }, TFJS_NODE_GPU), ['wasm']);
  assert.throws(
    () => candidatesForDevice(['wasm'], { kind: 'gpu', indices: ['0'] }, TFJS_NODE_GPU),
    /--device 0 asks for a GPU, but the chosen backend \(wasm\) cannot use one/,
  );
});
