// `--batch-size -1` in the trainer: every rank probes its own device with a copy of the
// run's model, rank 0 takes the smallest per-rank batch (ddp.ts), and the run trains with
// total = per-rank × world size. Knobs: YOLO_AUTOBATCH_FRACTION (default 0.6) and
// YOLO_AUTOBATCH_MEMORY (a cap such as `2G` or `512M` on what a rank may use, e.g. on a
// shared machine).

import type * as yolo from '@yolo-launch/yolo';
import { DEFAULT_FRACTION } from './fit.js';
import { agreeOnBatchSize, type AgreedBatch, type ObjectGroup } from './ddp.js';
import { currentDeviceMemory } from './device.js';
import { autobatch, PREFIX } from './profile.js';
import { createTrainStepProbe } from './probe.js';
import type { DeviceMemory } from './memory.js';

export interface AutoBatchLog {
  info(msg: string, obj?: Record<string, unknown>): void;
  warn(msg: string, obj?: Record<string, unknown>): void;
  record(msg: string, obj?: Record<string, unknown>): void;
}

export interface ResolveAutoBatchInput {
  modelYaml: yolo.ModelYaml;
  nc: number;
  lossHyp: yolo.LossHyp;
  anchors?: number;
  imgsz: number;
  /** the backward the run will use at YOLOv5's default batch (recompute.ts) */
  recompute: boolean;
  group: ObjectGroup;
  localWorldSize: number;
  log: AutoBatchLog;
  env?: Record<string, string | undefined>;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `2G`, `512M`, `1.5G`, `1073741824` → bytes. */
export function parseByteSize(text: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text);
  if (!m || Number(m[1]) <= 0) throw new Error(`${name}=${JSON.stringify(text)} is not a size; use e.g. 2G or 512M`);
  return Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
}

export function autobatchFraction(env: Record<string, string | undefined>): number {
  const raw = env.YOLO_AUTOBATCH_FRACTION;
  if (raw === undefined || raw === '') return DEFAULT_FRACTION;
  const value = Number(raw);
  if (!(value > 0 && value <= 1))
    throw new Error(`YOLO_AUTOBATCH_FRACTION=${raw} must be a number in (0, 1], e.g. 0.6`);
  return value;
}

function cappedDevice(device: DeviceMemory, env: Record<string, string | undefined>): DeviceMemory {
  const raw = env.YOLO_AUTOBATCH_MEMORY;
  if (raw === undefined || raw === '') return device;
  const cap = parseByteSize(raw, 'YOLO_AUTOBATCH_MEMORY');
  if (cap >= device.availableBytes) return device;
  return {
    ...device,
    name: `${device.name} (YOLO_AUTOBATCH_MEMORY=${raw})`,
    availableBytes: cap,
    totalBytes: cap + (device.totalBytes - device.availableBytes),
  };
}

/** This rank's measurement, then the agreed per-rank and total batch sizes (same on every rank). */
export async function resolveAutoBatch(x: ResolveAutoBatchInput): Promise<AgreedBatch> {
  const env = x.env ?? process.env;
  const fraction = autobatchFraction(env);
  const device = cappedDevice(currentDeviceMemory(x.localWorldSize, env), env);
  const probe = createTrainStepProbe({
    modelYaml: x.modelYaml,
    nc: x.nc,
    lossHyp: x.lossHyp,
    imgsz: x.imgsz,
    recompute: x.recompute,
    ...(x.anchors ? { anchors: x.anchors } : {}),
  });
  let result;
  try {
    result = await autobatch(probe, {
      imgsz: x.imgsz,
      device,
      params: probe.params,
      fraction,
      print: (l) => x.log.info(l),
      warn: (l) => x.log.warn(l),
    });
  } finally {
    probe.dispose();
  }
  const agreed = await agreeOnBatchSize(x.group, result.batch);
  x.log.record('autobatch', {
    device: device.name,
    available_bytes: device.availableBytes,
    fraction,
    backward: x.recompute ? 'recompute' : 'tape',
    samples: result.rows.map((r) => ({
      batch: r.batch,
      bytes: r.bytes,
      forward_ms: r.forwardMs,
      backward_ms: r.backwardMs,
      error: r.error,
    })),
    fit: result.fit,
    measured: result.batch,
    per_rank: agreed.perRank,
    total: agreed.total,
    measured_by_rank: agreed.measured,
  });
  if (agreed.measured.length > 1) {
    x.log.info(
      `${PREFIX}${agreed.measured.length} ranks measured ${agreed.measured.join(', ')}; every rank uses the smallest, ${agreed.perRank}: --batch-size ${agreed.total}`,
    );
  }
  return agreed;
}
