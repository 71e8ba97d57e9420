// Collects everything `yolo-launch doctor` reports: the platform, the GPUs and CUDA libraries,
// each backend examined in its own probe child (one per GPU for tfjs-node-gpu, run in
// parallel), the selection a training worker would make, the network a multi-node job would
// use, shared memory and disk. Judging it is verdict.ts's job; printing it, format.ts's.
import {
  findCudaLibraries,
  jitCacheNotice,
  jitCacheState,
  parseTfLog,
  queryGpus,
  tfLogReasons,
  TFJS_NODE,
  TFJS_NODE_GPU,
  type GpuInfo,
  type JitCacheState,
  type LibraryLookup,
  type TfLogFacts,
} from '@yolo-launch/backend';
import { DEFAULT_MASTER_PORT } from '../launch.js';
import { BENCH_NAMES, type BenchName } from './benchmarks.js';
import type { DoctorMachine, NetworkFacts, SpaceFacts } from './machine.js';
import type { ProbeOutcome, ProbeReport, ProbeSpec } from './protocol.js';

export interface DoctorRequest {
  /** --backend (default YOLO_BACKEND, else auto) */
  backend: string;
  /** --device: '' (whatever the backend finds), 'cpu' or 'gpu' */
  device: string;
  bench: boolean;
}

export interface BackendRow {
  /** wasm, cpu, tensorflow, tensorflow-gpu */
  name: string;
  package: string;
  /** GPU index for tensorflow-gpu rows */
  gpu?: number;
  probe: ProbeReport | null;
  /** TensorFlow's own start-up log from the child's stderr */
  tfLog: TfLogFacts | null;
  /** why the child gave no report, or the reasons it and TF's log give */
  reasons: string[];
  wallMs: number;
}

export interface DoctorReport {
  request: DoctorRequest;
  platform: ReturnType<DoctorMachine['platform']>;
  gpus: { ok: true; list: GpuInfo[] } | { ok: false; reason: string };
  libraries: LibraryLookup[];
  jitCache: JitCacheState;
  jitNotice: string | null;
  backends: BackendRow[];
  /** what a training worker would get with this --backend/--device */
  selected: BackendRow;
  network: NetworkFacts;
  shm: SpaceFacts | null;
  disk: (SpaceFacts & { path: string }) | null;
}

const CPU_TIMEOUT_MS = 5 * 60_000;
/** A first start on a GPU without TF 2.9 machine code JIT-compiles for tens of minutes. */
const GPU_TIMEOUT_MS = 60 * 60_000;

const PACKAGE_OF: Record<string, string> = {
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
  tensorflow: TFJS_NODE,
  'tensorflow-gpu': TFJS_NODE_GPU,
};

function row(name: string, outcome: ProbeOutcome, gpu?: number): BackendRow {
  const tfLog = tensorflowLog(outcome.stderr);
  const reasons = outcome.report
    ? [...(outcome.report.reasons ?? []), ...(outcome.report.ok || !tfLog ? [] : tfLogReasons(tfLog))]
    : [`the probe process ended without a report (exit ${String(outcome.exitCode)}): ${lastLines(outcome.stderr)}`];
  return {
    name,
    package: outcome.report?.package ?? PACKAGE_OF[name] ?? name,
    ...(gpu !== undefined ? { gpu } : {}),
    probe: outcome.report,
    tfLog,
    reasons: [...new Set(reasons)],
    wallMs: outcome.wallMs,
  };
}

/** TensorFlow's start-up facts from a child's stderr; null when it printed none (wasm, cpu). */
function tensorflowLog(stderr: string): TfLogFacts | null {
  const facts = parseTfLog(stderr);
  const said =
    facts.createdGpus.length + facts.missingLibraries.length + facts.ptxJit.length + facts.ignoredGpus.length;
  return said > 0 || facts.cuInitError !== null || facts.skippedGpuRegistration ? facts : null;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ') || '(no output)';
}

function benchFor(request: DoctorRequest, name: string): BenchName[] {
  if (!request.bench) return [];
  // Pure JavaScript trains too slowly to be worth a step unless it is what was asked for.
  return name === 'cpu' && request.backend !== 'cpu' ? ['matmul', 'conv'] : [...BENCH_NAMES];
}

async function gpuRows(machine: DoctorMachine, request: DoctorRequest, gpus: GpuInfo[]): Promise<BackendRow[]> {
  const spec = (env: Record<string, string>): ProbeSpec => ({
    label: 'tensorflow-gpu',
    backend: 'tensorflow',
    package: TFJS_NODE_GPU,
    device: 'gpu',
    env,
    bench: benchFor(request, 'tensorflow-gpu'),
    timeoutMs: GPU_TIMEOUT_MS,
  });
  if (request.device === 'cpu') return [];
  if (gpus.length === 0) return [row('tensorflow-gpu', await machine.runProbe(spec({})))];
  // The first GPU alone: when the package is missing, the other GPUs need not say so again.
  const first = row(
    'tensorflow-gpu',
    await machine.runProbe(spec({ CUDA_VISIBLE_DEVICES: String(gpus[0]!.index) })),
    gpus[0]!.index,
  );
  if (first.probe?.ok === false && first.reasons.some((r) => /not installed/.test(r))) return [first];
  const rest = await Promise.all(
    gpus
      .slice(1)
      .map(async (g) =>
        row('tensorflow-gpu', await machine.runProbe(spec({ CUDA_VISIBLE_DEVICES: String(g.index) })), g.index),
      ),
  );
  return [first, ...rest];
}

async function cpuRows(machine: DoctorMachine, request: DoctorRequest): Promise<BackendRow[]> {
  const rows: BackendRow[] = [];
  for (const [name, backend, pkg] of [
    ['tensorflow', 'tensorflow', TFJS_NODE],
    ['wasm', 'wasm', undefined],
    ['cpu', 'cpu', undefined],
  ] as const) {
    const outcome = await machine.runProbe({
      label: name,
      backend,
      ...(pkg ? { package: pkg } : {}),
      device: '',
      env: {},
      bench: benchFor(request, name),
      timeoutMs: CPU_TIMEOUT_MS,
    });
    rows.push(row(name, outcome));
  }
  return rows;
}

export async function diagnose(
  machine: DoctorMachine,
  request: DoctorRequest,
  progress: (line: string) => void = () => {},
): Promise<DoctorReport> {
  const env = machine.env;
  const gpuQuery = queryGpus(machine.facts);
  const gpus = gpuQuery.ok ? gpuQuery.gpus : [];
  const jitCache = jitCacheState(env, machine.facts);
  const jitNotice = jitCacheNotice(gpus, jitCache);
  if (jitNotice && request.device !== 'cpu') progress(jitNotice);
  progress(
    `examining ${gpus.length > 0 ? `${gpus.length} GPU(s) and ` : ''}each backend in its own process${request.bench ? ', with benchmarks' : ''} ...`,
  );
  const gpuBackends = await gpuRows(machine, request, gpus);
  const cpuBackends = await cpuRows(machine, request);
  const selected = row(
    'selected',
    await machine.runProbe({
      label: 'selected',
      backend: request.backend,
      device: request.device,
      env: {},
      bench: [],
      timeoutMs: GPU_TIMEOUT_MS,
    }),
  );
  const masterPort = Number(env.MASTER_PORT ?? env.YOLO_LAUNCH_MASTER_PORT ?? DEFAULT_MASTER_PORT);
  const shm = machine.space('/dev/shm');
  const disk = machine.space(machine.cwd);
  return {
    request,
    platform: machine.platform(),
    gpus: gpuQuery.ok ? { ok: true, list: gpus } : { ok: false, reason: gpuQuery.reason },
    libraries: findCudaLibraries(env, machine.facts),
    jitCache,
    jitNotice,
    backends: [...gpuBackends, ...cpuBackends],
    selected,
    network: await machine.network(env.MASTER_ADDR ?? '127.0.0.1', masterPort, env.YOLO_SOCKET_IFNAME || undefined),
    shm,
    disk: disk ? { ...disk, path: machine.cwd } : null,
  };
}
