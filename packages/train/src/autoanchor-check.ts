// AutoAnchor (check_anchors): on rank 0, the anchors' fit to the training labels, and new
// anchors from k-means + evolution when the best possible recall is poor.

import * as yolo from '@yolo-launch/yolo';
import type * as data from '@yolo-launch/data';
import type { TrainLog } from './log.js';
import type { PreparedRun } from './context.js';

/** check_anchors on rank 0: recompute anchors with k-means + evolution when recall is poor. */
function autoAnchor(
  model: yolo.YoloModel,
  dataset: data.YoloDataset,
  thr: number,
  imgsz: number,
  seed: number,
  log: TrainLog,
): number[] | null {
  const shapes = Float32Array.from(dataset.shapes.flat());
  const r = yolo.checkAnchors({ shapes, labels: dataset.labels }, model.anchorsPixels, { thr, imgsz, seed });
  const s = `AutoAnchor: ${r.aat.toFixed(2)} anchors/target, ${r.bpr.toFixed(3)} Best Possible Recall (BPR). `;
  if (!r.recompute) {
    log.info(s + 'Current anchors are a good fit to dataset ✅');
    return null;
  }
  log.info(s + 'Anchors are a poor fit to dataset ⚠️, attempting to improve...');
  if (!r.replaced) {
    log.info('AutoAnchor: Done ⚠️ (original anchors better than new anchors, proceeding with original anchors)');
    return null;
  }
  log.info('AutoAnchor: Done ✅ (optional: update model *.yaml to use these anchors in the future)');
  return Array.from(r.anchors);
}

/** Anchors: AutoAnchor on rank 0, then every rank takes rank 0's anchors. */
export async function autoAnchorOnRankZero(
  run: PreparedRun,
  model: yolo.YoloModel,
  dataset: data.YoloDataset,
  settings: { thr: number; imgsz: number; seed: number },
): Promise<void> {
  let anchors: number[] | null = null;
  if (run.distEnv.rank <= 0) anchors = autoAnchor(model, dataset, settings.thr, settings.imgsz, settings.seed, run.log);
  anchors = await run.processGroup.broadcastObject(anchors, 0);
  if (anchors) model.setAnchorsPixels(anchors);
}
