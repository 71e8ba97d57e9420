#!/usr/bin/env node
// One backend, examined in a process of its own (a process holds one tfjs backend, and
// libtensorflow writes its device log to this process's stderr, which the parent reads):
//
//   node probe-child.js --backend tensorflow --package @tensorflow/tfjs-node-gpu --device gpu --bench matmul,conv,train
//
// It selects the backend through the same initBackend a training worker uses (GPU guard
// included), checks that a MatMul and a Conv2D compute right, runs the benchmarks, and prints
// one line `PROBE_MARKER {json}` on stdout.
import { parseArgs } from 'node:util';
import {
  backendChoice,
  GpuUnavailableError,
  initBackend,
  probeOps,
  tf,
  type BackendName,
  type ModuleLoader,
} from '@yolo-launch/backend';
import { benchSizes, runBenchmarks, type BenchName } from './benchmarks.js';
import { PROBE_MARKER, type ProbeReport } from './protocol.js';

function notInstalled(specifier: string): Error {
  return Object.assign(
    new Error(`Cannot find package '${specifier}' (the doctor examines another package in this process)`),
    { code: 'ERR_MODULE_NOT_FOUND' },
  );
}

/** Lets only `pkg` load, so that 'tensorflow' means exactly tfjs-node or exactly tfjs-node-gpu. */
export function onlyPackage(pkg: string): ModuleLoader {
  return (specifier) => (specifier === pkg ? import(specifier) : Promise.reject(notInstalled(specifier)));
}

/** The lines of initBackend's error that concern `pkg` (or all of them). */
function reasonsOf(error: unknown, pkg: string | undefined): string[] {
  if (error instanceof GpuUnavailableError) return error.reasons;
  const message = error instanceof Error ? error.message : String(error);
  const lines = message
    .split('\n')
    .filter((l) => /^\s+- /.test(l))
    .map((l) => l.replace(/^\s+- /, ''));
  const mine = pkg ? lines.filter((l) => l.startsWith(`${pkg}:`)).map((l) => l.slice(pkg.length + 1).trim()) : lines;
  return mine.length > 0 ? mine : [message.split('\n')[0]!];
}

async function examine(
  backend: BackendName,
  pkg: string | undefined,
  device: string,
  bench: BenchName[],
): Promise<ProbeReport> {
  try {
    await initBackend({ backend, device, ...(pkg ? { loader: onlyPackage(pkg) } : {}) });
  } catch (error) {
    return { ok: false, reasons: reasonsOf(error, pkg), benchmarks: [] };
  }
  const choice = backendChoice()!;
  const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
  const probe = await probeOps(tf);
  if (!probe.ok)
    return {
      ok: false,
      backend: choice.backend,
      package: choice.package,
      gpu: choice.gpu,
      reasons: [`${probe.error}`],
      benchmarks: [],
    };
  const benchmarks = await runBenchmarks(bench, benchSizes(choice.backend, choice.gpu));
  return {
    ok: true,
    backend: choice.backend,
    package: choice.package,
    gpu: choice.gpu,
    verifiedOps: probe.ops,
    benchmarks,
    ...(binding?.TF_Version ? { tfVersion: binding.TF_Version } : {}),
  };
}

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    package: { type: 'string' },
    device: { type: 'string', default: '' },
    bench: { type: 'string', default: '' },
  },
});
const bench = (values.bench ?? '')
  .split(',')
  .filter((b): b is BenchName => b === 'matmul' || b === 'conv' || b === 'train');
const report = await examine(values.backend as BackendName, values.package, values.device ?? '', bench);
process.stdout.write(`${PROBE_MARKER} ${JSON.stringify(report)}\n`);
process.exit(0);
