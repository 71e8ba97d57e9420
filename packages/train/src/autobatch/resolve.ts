// `--batch-size -1` in the trainer: every rank probes its own device with a copy of the
// run's model, rank 0 takes the smallest per-rank batch (ddp.ts), and the run trains with
// total = per-rank × world size. Knobs (read at start by train-env.ts): YOLO_AUTOBATCH_FRACTION
// (default 0.6) and YOLO_AUTOBATCH_MEMORY (a cap such as `2G` or `512M` on what a rank may use,
// e.g. on a shared machine).

import type * as yolo from '@yolo-launch/yolo';
import { agreeOnBatchSize, type AgreedBatch, type ObjectGroup } from './ddp.js';
import { currentDeviceMemory } from './device.js';
import { autobatch, PREFIX } from './profile.js';
import { createTrainStepProbe } from './probe.js';
import type { DeviceMemory } from './memory.js';
import type { MemoryCap } from '../train-env.js';

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
  /** YOLO_AUTOBATCH_FRACTION: the share of the device memory to aim at. */
  fraction: number;
  /** YOLO_AUTOBATCH_MEMORY: what a rank may use at most, or null. */
  memoryCap: MemoryCap | null;
  /** CUDA_VISIBLE_DEVICES' first entry: the GPU to measure on tfjs-node-gpu. */
  visibleGpu: string;
}

/** The device as AutoBatch sees it under YOLO_AUTOBATCH_MEMORY: no more available than the cap. */
function cappedDevice(device: DeviceMemory, cap: MemoryCap | null): DeviceMemory {
  if (!cap || cap.bytes >= device.availableBytes) return device;
  return {
    ...device,
    name: `${device.name} (YOLO_AUTOBATCH_MEMORY=${cap.text})`,
    availableBytes: cap.bytes,
    totalBytes: cap.bytes + (device.totalBytes - device.availableBytes),
  };
}

/** This rank's measurement, then the agreed per-rank and total batch sizes (same on every rank). */
export async function resolveAutoBatch(x: ResolveAutoBatchInput): Promise<AgreedBatch> {
  const fraction = x.fraction;
  const device = cappedDevice(currentDeviceMemory(x.localWorldSize, x.visibleGpu), x.memoryCap);
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
