// The batch size the run trains with: --batch-size as given (the total over all ranks), or
// with --batch-size -1 what AutoBatch measured (src/autobatch/): every rank probes its own
// device at YOLOv5's default batch's backward path, rank 0 takes the smallest per-rank
// batch, total = per-rank × world size. The total then drives nbs accumulation and weight
// decay as any given batch size does, and rank 0 rewrites opt.yaml with it so that --resume
// trains on with the same batch.

import { tf } from '@yolo-launch/backend';
import type * as yolo from '@yolo-launch/yolo';
import type { PreparedRun } from './context.js';
import { AUTOBATCH, type TrainOptions } from './options.js';
import type { ModelState } from './model-state.js';
import { chooseRecompute } from './recompute.js';
import { DEFAULT_BATCH } from './autobatch/fit.js';
import { resolveAutoBatch } from './autobatch/resolve.js';
import { writeOptYaml } from './run-files.js';

export interface SettledBatch {
  /** the options with batch_size = the total the run trains with */
  options: TrainOptions;
  batchPerRank: number;
}

export interface BatchSizeInputs {
  model: yolo.YoloModel;
  state: ModelState;
  nc: number;
  imgsz: number;
  gridStride: number;
  saveDir: string;
}

export async function settleBatchSize(run: PreparedRun, x: BatchSizeInputs): Promise<SettledBatch> {
  const { options, distEnv } = run;
  const world = Math.max(1, distEnv.worldSize);
  if (options.batch_size !== AUTOBATCH) return { options, batchPerRank: options.batch_size / world };
  // The backward the run would use at YOLOv5's default batch per rank (recompute.ts decides
  // again for the chosen batch; either way the memory stays within what was measured or the
  // tape budget).
  const backward = chooseRecompute({
    backend: tf.getBackend(),
    batch: DEFAULT_BATCH,
    maxSide: options.multi_scale ? Math.floor(x.imgsz * 1.5) + x.gridStride : x.imgsz,
    widthMultiple: run.modelYaml.width_multiple,
    depthMultiple: run.modelYaml.depth_multiple,
    params: x.state.params.reduce((n, p) => n + p.data.length, 0),
    env: run.env.recompute,
  });
  const agreed = await resolveAutoBatch({
    modelYaml: run.modelYaml,
    nc: x.nc,
    lossHyp: run.hyp,
    imgsz: x.imgsz,
    recompute: backward.recompute,
    ...(run.hyp.anchors ? { anchors: Math.round(run.hyp.anchors) } : {}),
    group: run.processGroup,
    localWorldSize: distEnv.localWorldSize,
    log: run.log,
    fraction: run.env.autobatchFraction,
    memoryCap: run.env.autobatchMemory,
    visibleGpu: run.env.visibleGpu,
  });
  const settled: TrainOptions = { ...options, batch_size: agreed.total };
  if (distEnv.rank <= 0) writeOptYaml(x.saveDir, settled, run.hyp);
  return { options: settled, batchPerRank: agreed.perRank };
}
