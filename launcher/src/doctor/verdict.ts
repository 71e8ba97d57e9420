// Can the requested setup run a job? The doctor's exit code follows this: 0 when it can,
// 1 with the reasons when it cannot. Warnings do not fail it (a small /dev/shm, little disk,
// a taken master port, the first-start JIT).
import type { BackendRow, DoctorReport } from './diagnose.js';

export interface Verdict {
  ok: boolean;
  /** what stops a job, one actionable line each */
  reasons: string[];
  warnings: string[];
  /** e.g. "@tensorflow/tfjs-node-gpu on 8 GPUs" */
  runsOn: string | null;
}

export const MIN_SHM_BYTES = 1024 ** 3;
export const MIN_FREE_DISK_BYTES = 5 * 1024 ** 3;

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** The rows whose benchmarks describe the selected backend (one per GPU for tfjs-node-gpu). */
export function selectedRows(report: DoctorReport): BackendRow[] {
  const chosen = report.selected.probe;
  if (!chosen?.ok) return [];
  if (chosen.gpu) return report.backends.filter((b) => b.name === 'tensorflow-gpu');
  const name = chosen.backend === 'tensorflow' ? 'tensorflow' : chosen.backend;
  return report.backends.filter((b) => b.name === name);
}

function gpuReasons(report: DoctorReport): string[] {
  const reasons: string[] = [];
  if (!report.gpus.ok) reasons.push(report.gpus.reason);
  else if (report.gpus.list.length === 0) reasons.push('nvidia-smi lists no GPU');
  for (const row of report.backends.filter((b) => b.name === 'tensorflow-gpu' && !(b.probe?.ok && b.probe.gpu))) {
    const where = row.gpu !== undefined ? `GPU ${row.gpu}` : 'tfjs-node-gpu';
    reasons.push(...row.reasons.map((r) => `${where}: ${r}`));
  }
  return reasons;
}

export function judge(report: DoctorReport): Verdict {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const selected = report.selected;
  if (!selected.probe?.ok) reasons.push(...selected.reasons.map((r) => `${report.request.backend} backend: ${r}`));
  if (report.request.device === 'gpu') {
    if (selected.probe?.ok && !selected.probe.gpu)
      reasons.push(`--device gpu: the ${selected.probe.package} backend does not use a GPU`);
    reasons.push(...gpuReasons(report));
  }
  for (const row of selectedRows(report)) {
    const failed = (row.probe?.benchmarks ?? []).filter((b) => !b.ok);
    for (const bench of failed)
      reasons.push(
        `${row.name}${row.gpu !== undefined ? ` (GPU ${row.gpu})` : ''}: ${bench.what} failed: ${bench.error}`,
      );
  }
  if ('error' in report.network.advertise) reasons.push(`network: ${report.network.advertise.error}`);

  if (report.shm && report.shm.total < MIN_SHM_BYTES) {
    warnings.push(
      `/dev/shm is ${gib(report.shm.total)}: data-loading workers need more (Docker: ipc: host or shm_size: 16gb; Kubernetes: an emptyDir with medium: Memory)`,
    );
  }
  if (report.disk && report.disk.free < MIN_FREE_DISK_BYTES)
    warnings.push(`only ${gib(report.disk.free)} free at ${report.disk.path}, where runs/ and checkpoints are written`);
  if (!report.network.port.free) {
    warnings.push(
      `master port ${report.network.masterPort} is taken by ${report.network.port.holder}: use --master-port or --standalone`,
    );
  }
  if (report.jitNotice && report.request.device !== 'cpu') warnings.push(report.jitNotice.replace(/^notice: /, ''));

  const chosen = selected.probe;
  const gpuCount = report.backends.filter((b) => b.name === 'tensorflow-gpu' && b.probe?.gpu).length;
  const runsOn = chosen?.ok ? `${chosen.package}${chosen.gpu ? ` on ${gpuCount} GPU(s)` : ' (CPU)'}` : null;
  return { ok: reasons.length === 0, reasons: [...new Set(reasons)], warnings, runsOn };
}
