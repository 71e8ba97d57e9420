// `yolo-launch doctor`: on this machine for real (CPU backends), and on GPU servers through
// recorded outputs: nvidia-smi, ldconfig -p and TensorFlow 2.9's start-up log
// (packages/backend/test/fixtures/gpu), fed through the doctor's injectable machine.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { initBackend, type CommandResult, type FactSources } from '@yolo-launch/backend';
import { benchConv, benchMatMul, benchTrainStep } from '../src/doctor/benchmarks.js';
import {
  diagnose,
  formatText,
  judge,
  parseDoctorArgs,
  type DoctorMachine,
  type DoctorRequest,
} from '../src/doctor/index.js';
import type { ProbeOutcome, ProbeReport, ProbeSpec } from '../src/doctor/protocol.js';
import { UsageError } from '../src/errors.js';
import { cleanEnv, runLauncher } from './helpers.js';

const FIXTURES = new URL('../../../packages/backend/test/fixtures/gpu/', import.meta.url);

/** A recorded output without its '#' provenance lines. */
function recorded(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

interface Server {
  smi: string | null;
  ldconfig: string;
  /** what each probe child reports, by its label and CUDA_VISIBLE_DEVICES */
  probe(spec: ProbeSpec): { report: ProbeReport; tfLog?: string };
}

function facts(server: Server): FactSources {
  const absent: CommandResult = { status: null, stdout: '', stderr: '', error: 'ENOENT' };
  return {
    run: (command) => {
      if (command === 'nvidia-smi')
        return server.smi === null ? absent : { status: 0, stdout: recorded(server.smi), stderr: '' };
      if (command.endsWith('ldconfig')) return { status: 0, stdout: recorded(server.ldconfig), stderr: '' };
      return absent;
    },
    listDir: () => [],
  };
}

function machine(server: Server, probes: ProbeSpec[] = []): DoctorMachine {
  return {
    env: { CUDA_CACHE_PATH: '/workspace/cache/cuda' },
    facts: facts(server),
    async runProbe(spec): Promise<ProbeOutcome> {
      probes.push(spec);
      const answer = server.probe(spec);
      return { report: answer.report, stderr: answer.tfLog ? recorded(answer.tfLog) : '', exitCode: 0, wallMs: 1 };
    },
    platform: () => ({ node: 'v20.20.2', npm: '11.19.1', os: 'linux x64', cpus: 224, memoryBytes: 2 * 1024 ** 4 }),
    space: (path) => (path === '/dev/shm' ? { total: 1024 ** 4, free: 1024 ** 4 } : { total: 1e13, free: 5e12 }),
    network: async (masterAddr, masterPort) => ({
      masterAddr,
      masterPort,
      advertise: { address: '10.0.0.5', ifname: 'ens1f0', why: 'route to MASTER_ADDR' },
      port: { free: true },
      ephemeralPorts: '32768-60999',
    }),
    cwd: '/workspace/train',
  };
}

const GPU_BENCH = [
  {
    name: 'matmul' as const,
    what: 'matMul 4096x4096x4096 float32',
    ok: true,
    ms: 3.1,
    cpuMs: 3.0,
    rate: '44334.2 GFLOP/s',
  },
];
const wasmOk: ProbeReport = {
  ok: true,
  backend: 'wasm',
  package: '@tensorflow/tfjs-backend-wasm',
  gpu: false,
  verifiedOps: ['MatMul', 'Conv2D'],
  benchmarks: [],
};
const cpuOk: ProbeReport = { ...wasmOk, backend: 'cpu', package: '@tensorflow/tfjs-backend-cpu' };
const nodeAbsent: ProbeReport = {
  ok: false,
  reasons: ['@tensorflow/tfjs-node is not installed (optional; see the backend README)'],
  benchmarks: [],
};
const onGpu: ProbeReport = {
  ok: true,
  backend: 'tensorflow',
  package: '@tensorflow/tfjs-node-gpu',
  gpu: true,
  tfVersion: '2.9.1',
  verifiedOps: ['MatMul', 'Conv2D'],
  benchmarks: GPU_BENCH,
};

/** The 8x H100 server with the GPU image; GPU 3 was handed a CUDA_VISIBLE_DEVICES that CUDA cannot open. */
const h100Server: Server = {
  smi: 'smi-h100x8.csv',
  ldconfig: 'ldconfig-cuda112-cudnn8.txt',
  probe(spec) {
    if (spec.label === 'wasm') return { report: wasmOk };
    if (spec.label === 'cpu') return { report: cpuOk };
    if (spec.label === 'tensorflow') return { report: nodeAbsent };
    if (spec.env.CUDA_VISIBLE_DEVICES === '3') {
      return {
        report: {
          ok: false,
          reasons: [
            "the driver and the CUDA 11.2 / cuDNN 8.1 libraries look right; TensorFlow's own log (`yolo-launch doctor`) says which step failed",
          ],
          benchmarks: [],
        },
        tfLog: 'tf-no-device.log',
      };
    }
    return { report: onGpu, tfLog: 'tf-h100-ptx-jit.log' };
  },
};

const request = (over: Partial<DoctorRequest> = {}): DoctorRequest => ({
  backend: 'auto',
  device: '',
  bench: true,
  ...over,
});

describe('doctor on recorded GPU servers', () => {
  it('8x H100: one probe per GPU; GPU 3 failing fails --device gpu, with TF log reasons; the JIT notice is a warning', async () => {
    const probes: ProbeSpec[] = [];
    const report = await diagnose(machine(h100Server, probes), request({ device: 'gpu' }));
    const gpuProbes = probes.filter((p) => p.label === 'tensorflow-gpu');
    assert.deepEqual(
      gpuProbes.map((p) => p.env.CUDA_VISIBLE_DEVICES),
      ['0', '1', '2', '3', '4', '5', '6', '7'],
    );
    assert.ok(gpuProbes.every((p) => p.device === 'gpu' && p.package === '@tensorflow/tfjs-node-gpu'));
    const gpu0 = report.backends.find((b) => b.gpu === 0)!;
    assert.equal(gpu0.tfLog?.createdGpus[0]?.name, 'NVIDIA H100 80GB HBM3');
    assert.deepEqual(gpu0.tfLog?.ptxJit, ['9.0']);

    const verdict = judge(report);
    assert.equal(verdict.ok, false);
    assert.ok(
      verdict.reasons.some((r) =>
        /^GPU 3: CUDA found no GPU \(driver 535\.104\.5\): CUDA_VISIBLE_DEVICES names no existing GPU/.test(r),
      ),
      verdict.reasons.join('\n'),
    );
    assert.ok(
      verdict.warnings.some((w) =>
        /no machine code for NVIDIA H100 80GB HBM3 \(compute capability 9\.0\).*cache\/cuda is empty/.test(w),
      ),
    );
    const text = formatText(report, verdict);
    assert.match(text, /GPU 7: NVIDIA H100 80GB HBM3, 80 GiB, compute capability 9\.0, driver 535\.104\.05/);
    assert.match(
      text,
      /tensorflow-gpu \(GPU 0\) +available: @tensorflow\/tfjs-node-gpu on the GPU, TensorFlow 2\.9\.1; MatMul and Conv2D verified, TF device GPU:0 = NVIDIA H100 80GB HBM3 \(78856 MB, compute capability 9\.0\)/,
    );
    assert.match(text, /matMul 4096x4096x4096 float32: 3\.1 ms, 44334\.2 GFLOP\/s/);
    assert.match(text, /libcudnn\.so\.8 +\/usr\/lib\/x86_64-linux-gnu\/libcudnn\.so\.8/);
    assert.match(text, /interface ens1f0 \(10\.0\.0\.5\)/);
    assert.match(text, /cannot run: GPU 3:/);
  });

  it('all GPUs verified: exit 0, and the selection a worker makes is tfjs-node-gpu on the GPUs', async () => {
    const healthy: Server = {
      ...h100Server,
      probe: (spec) =>
        spec.label === 'tensorflow-gpu' || spec.label === 'selected'
          ? { report: onGpu, tfLog: 'tf-h100-ptx-jit.log' }
          : h100Server.probe(spec),
    };
    const verdict = judge(await diagnose(machine(healthy), request({ device: 'gpu' })));
    assert.deepEqual(verdict.reasons, []);
    assert.equal(verdict.runsOn, '@tensorflow/tfjs-node-gpu on 8 GPU(s)');
  });

  it("tfjs-node-gpu silently on the CPU (no cuDNN) is not a GPU run: the worker's selection fails, with TF's own reason", async () => {
    const noCudnn: Server = {
      smi: 'smi-l4x2.csv',
      ldconfig: 'ldconfig-cuda112-no-cudnn.txt',
      probe(spec) {
        if (spec.label === 'tensorflow-gpu' || spec.label === 'selected') {
          return {
            report: {
              ok: false,
              reasons: ['libcudnn.so.8 (cuDNN 8) not found on LD_LIBRARY_PATH or in the loader cache'],
              benchmarks: [],
            },
            tfLog: 'tf-no-cudnn.log',
          };
        }
        return h100Server.probe(spec);
      },
    };
    const verdict = judge(await diagnose(machine(noCudnn), request()));
    assert.equal(verdict.ok, false);
    assert.ok(
      verdict.reasons.some((r) => /^auto backend: TensorFlow could not load libcudnn\.so\.8/.test(r)),
      verdict.reasons.join('\n'),
    );
    assert.ok(verdict.warnings.some((w) => /NVIDIA L4 \(compute capability 8\.9\)/.test(w)));
  });

  it('--device cpu on a GPU server runs no GPU probe and needs no GPU', async () => {
    const probes: ProbeSpec[] = [];
    const cpuRun: Server = {
      ...h100Server,
      probe: (spec) =>
        spec.label === 'selected' ? { report: { ...onGpu, gpu: false, benchmarks: [] } } : h100Server.probe(spec),
    };
    const report = await diagnose(machine(cpuRun, probes), request({ device: 'cpu' }));
    assert.ok(!probes.some((p) => p.label === 'tensorflow-gpu'));
    assert.equal(probes.find((p) => p.label === 'selected')?.device, 'cpu');
    const verdict = judge(report);
    assert.deepEqual(verdict.reasons, []);
    assert.ok(!verdict.warnings.some((w) => /machine code/.test(w)), 'no JIT notice for a CPU run');
  });

  it('a failing train step on the selected backend fails the verdict', async () => {
    const broken: Server = {
      ...h100Server,
      smi: null,
      probe(spec) {
        if (spec.label === 'wasm' || spec.label === 'selected') {
          return {
            report: {
              ...wasmOk,
              benchmarks: [
                {
                  name: 'train',
                  what: 'YOLOv5n train step, imgsz 320, batch 8',
                  ok: false,
                  error: 'memory access out of bounds',
                },
              ],
            },
          };
        }
        return { report: spec.label === 'cpu' ? cpuOk : nodeAbsent };
      },
    };
    const verdict = judge(await diagnose(machine(broken), request()));
    assert.deepEqual(verdict.reasons, [
      'wasm: YOLOv5n train step, imgsz 320, batch 8 failed: memory access out of bounds',
    ]);
  });
});

describe('doctor arguments', () => {
  it('parses its options and refuses bad ones', () => {
    assert.deepEqual(parseDoctorArgs(['--json', '--device', 'gpu'], {}), {
      json: true,
      backend: 'auto',
      device: 'gpu',
      bench: true,
    });
    assert.equal(parseDoctorArgs([], { YOLO_BACKEND: 'wasm' }).backend, 'wasm');
    assert.equal(parseDoctorArgs(['--no-bench'], {}).bench, false);
    assert.throws(() => parseDoctorArgs(['--device', 'tpu'], {}), UsageError);
    assert.throws(() => parseDoctorArgs(['--backend', 'wasm', '--device', 'gpu'], {}), /cannot use a GPU/);
    assert.throws(() => parseDoctorArgs(['--frobnicate'], {}), /usage: yolo-launch doctor/);
  });
});

describe('doctor on this machine', () => {
  it('the benchmarks run and time real work (wasm, tiny sizes)', async () => {
    await initBackend({ backend: 'wasm' });
    for (const result of [await benchMatMul(64), await benchConv([1, 16, 16, 8]), await benchTrainStep(64, 1)]) {
      assert.ok(result.ok, `${result.what}: ${result.error}`);
      assert.ok(result.ms! > 0 && result.cpuMs! >= 0, result.what);
    }
  });

  it('`yolo-launch doctor --json --no-bench` exits 0 here; a bad option exits 2', async () => {
    const ok = await runLauncher(['doctor', '--json', '--no-bench'], cleanEnv({ YOLO_BACKEND: 'wasm' }), 120_000);
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout) as {
      ok: boolean;
      selected: { probe: ProbeReport };
      backends: { name: string; probe: ProbeReport | null }[];
      platform: { node: string };
    };
    assert.equal(report.ok, true);
    assert.equal(report.selected.probe.backend, 'wasm');
    assert.equal(report.platform.node, process.version);
    assert.deepEqual(report.backends.find((b) => b.name === 'wasm')?.probe?.verifiedOps, ['MatMul', 'Conv2D']);
    const bad = await runLauncher(['doctor', '--device', 'tpu'], cleanEnv());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--device tpu: use cpu or gpu/);
  });
});
