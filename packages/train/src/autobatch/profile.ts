// AutoBatch's measurement (YOLOv5 utils/autobatch.py + torch_utils.profile): one forward and
// one forward+backward at each probe batch size, the step's peak tensor memory from
// tf.profile (plus the device's fixed bytes), then fit.ts's decision, printed as YOLOv5 prints
// it. What a "step" is belongs to the caller (the trainer's own backward path).

import { tf } from '@yolo-launch/backend';
import { chooseBatchSize, probeFits, PROBE_BATCH_SIZES, type BatchDecision, type MemorySample } from './fit.js';
import { GIB, type DeviceMemory } from './memory.js';
import { formatG } from '../results.js';

export const PREFIX = 'AutoBatch: ';

export interface AutoBatchProbe {
  /** one training-mode forward of `batch` images, results disposed */
  forward(batch: number): void;
  /** one forward + backward of `batch` images as the trainer runs it, gradients disposed */
  forwardBackward(batch: number): void;
}

export interface AutoBatchOptions {
  imgsz: number;
  device: DeviceMemory;
  /** trainable parameters, for the table */
  params: number;
  fraction?: number;
  defaultBatch?: number;
  sizes?: readonly number[];
  print: (line: string) => void;
  warn: (line: string) => void;
}

export interface ProbeRow {
  batch: number;
  bytes: number | null;
  forwardMs: number;
  backwardMs: number;
  /** why the size did not run (failed, or predicted not to fit) */
  error?: string;
}

export interface AutoBatchResult extends BatchDecision {
  rows: ProbeRow[];
  device: DeviceMemory;
}

const gb = (bytes: number): string => (bytes / GIB).toFixed(2);

async function measure(probe: AutoBatchProbe, batch: number, fixedBytes: number): Promise<ProbeRow> {
  const t0 = performance.now();
  probe.forward(batch);
  const t1 = performance.now();
  const info = await tf.profile(() => probe.forwardBackward(batch));
  const t2 = performance.now();
  if (!Number.isFinite(info.peakBytes)) throw new Error('the probe step ran no kernel');
  return { batch, bytes: fixedBytes + info.peakBytes, forwardMs: t1 - t0, backwardMs: t2 - t1 - (t1 - t0) };
}

function tableHeader(): string {
  return `${'Params'.padStart(12)}${'mem (GB)'.padStart(14)}${'forward (ms)'.padStart(14)}${'backward (ms)'.padStart(14)}${'input'.padStart(24)}${'output'.padStart(24)}`;
}

function tableRow(params: number, imgsz: number, row: ProbeRow): string {
  const input = `(${row.batch}, 3, ${imgsz}, ${imgsz})`;
  return `${String(params).padStart(12)}${(row.bytes! / 1e9).toFixed(3).padStart(14)}${formatG(row.forwardMs, 4).padStart(14)}${formatG(row.backwardMs, 4).padStart(14)}${input.padStart(24)}${'list'.padStart(24)}`;
}

/** Probes growing batch sizes, fits memory against batch size, and picks this rank's batch size. */
export async function autobatch(probe: AutoBatchProbe, opts: AutoBatchOptions): Promise<AutoBatchResult> {
  const { device } = opts;
  opts.print(`${PREFIX}Computing optimal batch size for --imgsz ${opts.imgsz}`);
  opts.print(
    `${PREFIX}${device.name} ${gb(device.totalBytes)}G total, ${gb(device.ownBytes)}G used by this rank, ${gb(device.availableBytes - device.ownBytes)}G free`,
  );
  opts.print(tableHeader());
  const rows: ProbeRow[] = [];
  for (const batch of opts.sizes ?? PROBE_BATCH_SIZES) {
    // Skip a size predicted not to fit at all: on wasm an allocation past the heap aborts
    // the process instead of throwing, and once one size fails, larger ones would too.
    if (rows.some((r) => r.bytes === null) || !probeFits(rows, batch, device.availableBytes)) {
      rows.push({ batch, bytes: null, forwardMs: NaN, backwardMs: NaN, error: 'predicted not to fit, not run' });
      continue;
    }
    try {
      const row = await measure(probe, batch, device.fixedBytes);
      rows.push(row);
      opts.print(tableRow(opts.params, opts.imgsz, row));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      rows.push({ batch, bytes: null, forwardMs: NaN, backwardMs: NaN, error: message });
      opts.warn(`${PREFIX}batch-size ${batch} failed: ${message}`);
    }
  }
  const samples: MemorySample[] = rows.map((r) => ({ batch: r.batch, bytes: r.bytes }));
  const decision = chooseBatchSize({
    samples,
    availableBytes: device.availableBytes,
    fraction: opts.fraction,
    defaultBatch: opts.defaultBatch,
  });
  if (decision.fallback) opts.warn(`${PREFIX}${decision.fallback}`);
  opts.print(usingLine(decision, device));
  return { ...decision, rows, device };
}

/** `AutoBatch: Using batch-size 24 for CUDA:0 (…) 8.49G/14.58G (58%) ✅`, as YOLOv5 prints it. */
export function usingLine(decision: Pick<BatchDecision, 'batch' | 'predictedBytes'>, device: DeviceMemory): string {
  const used = decision.predictedBytes + (device.totalBytes - device.availableBytes);
  const shown = Number.isFinite(used)
    ? `${gb(used)}G/${gb(device.totalBytes)}G (${Math.round((used / device.totalBytes) * 100)}%)`
    : `?G/${gb(device.totalBytes)}G`;
  return `${PREFIX}Using batch-size ${decision.batch} for ${device.name} ${shown} ✅`;
}
