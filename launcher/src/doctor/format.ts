// The doctor's report as text (the default) and as JSON (--json).
import { describeGpu } from '@yolo-launch/backend';
import type { BenchResult } from './benchmarks.js';
import type { BackendRow, DoctorReport } from './diagnose.js';
import type { Verdict } from './verdict.js';

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function bench(result: BenchResult): string {
  if (!result.ok) return `${result.what}: FAILED (${result.error})`;
  const rate = result.rate ? `, ${result.rate}` : '';
  return `${result.what}: ${result.ms} ms${rate} (CPU ${result.cpuMs} ms)`;
}

function backendLines(row: BackendRow): string[] {
  const title = `${`${row.name}${row.gpu !== undefined ? ` (GPU ${row.gpu})` : ''}`.padEnd(23)} `;
  const probe = row.probe;
  if (!probe?.ok) return [`  ${title}not available: ${row.reasons.join('; ')}`];
  const device = probe.gpu ? 'GPU' : 'CPU';
  const tf = probe.tfVersion ? `, TensorFlow ${probe.tfVersion}` : '';
  const created =
    row.tfLog?.createdGpus
      .map(
        (d) =>
          `, TF device ${d.tfDevice.replace(/^.*device:/, '')} = ${d.name} (${d.memoryMB} MB, compute capability ${d.computeCapability})`,
      )
      .join('') ?? '';
  const lines = [
    `  ${title}available: ${probe.package} on the ${device}${tf}; ${probe.verifiedOps?.join(' and ')} verified${created}`,
  ];
  for (const result of probe.benchmarks) lines.push(`  ${''.padEnd(24)}${bench(result)}`);
  return lines;
}

export function formatText(report: DoctorReport, verdict: Verdict): string {
  const p = report.platform;
  const out: string[] = ['yolo-launch doctor', '', 'system'];
  out.push(`  node ${p.node}, npm ${p.npm ?? 'not found'}, ${p.os}, ${p.cpus} CPU threads, ${gib(p.memoryBytes)} RAM`);
  out.push(
    `  /dev/shm ${report.shm ? `${gib(report.shm.total)} (${gib(report.shm.free)} free)` : 'not found'}; ${report.disk ? `${gib(report.disk.free)} free at ${report.disk.path}` : 'free disk unknown'}`,
  );
  out.push('', 'GPUs (nvidia-smi)');
  if (!report.gpus.ok) out.push(`  none: ${report.gpus.reason}`);
  else if (report.gpus.list.length === 0) out.push('  none listed');
  else for (const gpu of report.gpus.list) out.push(`  ${describeGpu(gpu)}`);
  const cache = report.jitCache;
  out.push(
    `  JIT cache ${cache.path}: ${cache.disabled ? 'disabled' : `${cache.entries} entries`}, CUDA_CACHE_MAXSIZE ${cache.maxSizeBytes ?? 'default'}`,
  );
  out.push('', 'CUDA libraries for TensorFlow 2.9 (CUDA 11.2, cuDNN 8.1)');
  for (const lib of report.libraries) out.push(`  ${lib.soname.padEnd(20)}${lib.path ?? 'NOT FOUND'}`);
  out.push('', 'backends');
  for (const row of report.backends) out.push(...backendLines(row));
  const net = report.network;
  out.push('', 'multi-node network');
  const advertise =
    'error' in net.advertise
      ? `NONE: ${net.advertise.error}`
      : `${net.advertise.ifname} (${net.advertise.address}), chosen by ${net.advertise.why}`;
  out.push(`  interface ${advertise}`);
  out.push(
    `  master ${net.masterAddr}:${net.masterPort} ${net.port.free ? 'free here' : `taken here by ${net.port.holder}`}; ring sockets on ports ${net.ephemeralPorts ?? '(OS range unknown)'}`,
  );
  out.push('');
  const chosen = report.selected.probe;
  out.push(
    `requested: --backend ${report.request.backend}${report.request.device ? ` --device ${report.request.device}` : ''}; a worker would get: ${verdict.runsOn ?? 'nothing (see below)'}`,
  );
  for (const warning of verdict.warnings) out.push(`warning: ${warning}`);
  if (verdict.ok) out.push(`OK: this machine can run \`yolo-launch train\` on ${chosen?.package ?? '?'}`);
  else for (const reason of verdict.reasons) out.push(`cannot run: ${reason}`);
  return `${out.join('\n')}\n`;
}

export function formatJson(report: DoctorReport, verdict: Verdict): string {
  return `${JSON.stringify({ ok: verdict.ok, verdict, ...report }, null, 2)}\n`;
}
