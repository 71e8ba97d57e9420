// What nvidia-smi says about the GPUs: name, memory, driver and compute capability, from
// `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`. Drivers older than 510 do not
// know the compute_cap field and refuse the whole query; then it is asked again without it.
import { firstLine, type CommandResult, type FactSources } from './sources.js';

export interface GpuInfo {
  /** nvidia-smi's index (the number CUDA_VISIBLE_DEVICES uses by default) */
  index: number;
  name: string;
  memoryMiB: number | null;
  driverVersion: string;
  /** "9.0"; null when the driver is too old to report it */
  computeCapability: string | null;
  pciBusId: string | null;
}

export type GpuQuery =
  | { ok: true; gpus: GpuInfo[] }
  /** reason: why there is no answer (nvidia-smi missing, driver not loaded, ...) */
  | { ok: false; reason: string; driverMissing: boolean };

export const FULL_FIELDS = ['index', 'name', 'memory.total', 'driver_version', 'compute_cap', 'pci.bus_id'] as const;
const LEGACY_FIELDS = FULL_FIELDS.filter((f) => f !== 'compute_cap');

export function queryArgs(fields: readonly string[]): string[] {
  return [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
}

function field(value: string | undefined): string | null {
  const v = (value ?? '').trim();
  return v === '' || /^\[(N\/A|Not Supported|Unknown Error)\]$/i.test(v) ? null : v;
}

/** One CSV row per GPU, in the order of `fields`. A name with a comma keeps its comma. */
export function parseGpuRows(text: string, fields: readonly string[]): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+\s*,/.test(l))) {
    const parts = line.split(',');
    const extra = parts.length - fields.length;
    const cells = extra > 0 ? [parts[0]!, parts.slice(1, 2 + extra).join(','), ...parts.slice(2 + extra)] : parts;
    const at = (name: string): string | null => field(cells[fields.indexOf(name)]);
    const memory = Number(at('memory.total'));
    gpus.push({
      index: Number(at('index')),
      name: at('name') ?? '?',
      memoryMiB: Number.isFinite(memory) && at('memory.total') !== null ? memory : null,
      driverVersion: at('driver_version') ?? '?',
      computeCapability: fields.includes('compute_cap') ? at('compute_cap') : null,
      pciBusId: at('pci.bus_id'),
    });
  }
  return gpus;
}

function failure(result: CommandResult): GpuQuery {
  if (result.error === 'ENOENT') {
    return {
      ok: false,
      driverMissing: true,
      reason:
        'nvidia-smi not found: no NVIDIA driver here (in a container: start it with --gpus all and the NVIDIA Container Toolkit)',
    };
  }
  return { ok: false, driverMissing: true, reason: `nvidia-smi failed: ${firstLine(result)}` };
}

export function queryGpus(sources: FactSources): GpuQuery {
  const full = sources.run('nvidia-smi', queryArgs(FULL_FIELDS));
  if (full.status === 0) return { ok: true, gpus: parseGpuRows(full.stdout, FULL_FIELDS) };
  if (!/compute_cap/.test(`${full.stdout}${full.stderr}`)) return failure(full);
  const legacy = sources.run('nvidia-smi', queryArgs(LEGACY_FIELDS));
  return legacy.status === 0 ? { ok: true, gpus: parseGpuRows(legacy.stdout, LEGACY_FIELDS) } : failure(legacy);
}

/** "535.104.05" >= "460.32.03", numerically part by part. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (Number.isNaN(x)) return false;
    if (x !== y) return x > y;
  }
  return true;
}

export function describeGpu(gpu: GpuInfo): string {
  const memory = gpu.memoryMiB === null ? '' : `, ${(gpu.memoryMiB / 1024).toFixed(0)} GiB`;
  const cc = gpu.computeCapability === null ? '' : `, compute capability ${gpu.computeCapability}`;
  return `GPU ${gpu.index}: ${gpu.name}${memory}${cc}, driver ${gpu.driverVersion}`;
}
