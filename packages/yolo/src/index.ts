// @yolo-launch/yolo: the YOLOv5 detector (see README.md for the module map and conventions).

// Model: YAML -> graph, parameters, state dict, forward passes
export { YoloModel, createModel, checkAnchorOrder } from './model.js';
export type {
  CreateModelOptions,
  NamedParameter,
  NamedBuffer,
  StateTensor,
  StateDict,
  ParamGroup,
  LayerInfo,
  GradientHook,
} from './model.js';
export { readModelYaml, planModel, ModelConfigError } from './model-yaml.js';
export type { ModelYaml, YamlRow, LayerPlan, ModelOverrides, ModuleSpec } from './model-yaml.js';
export { modelYamlPath, MODEL_NAMES } from './models.js';

// Building blocks and the BatchNorm plug-in point (SyncBatchNorm)
export { localMoments, BatchNorm2d } from './nn/batchnorm.js';
export type { BatchMoments, MomentsFn, ForwardContext } from './nn/batchnorm.js';
export { upsampleNearest, spaceToDepth } from './nn/blocks.js';
export { gatherRows, detach, silu } from './nn/ops.js';
export { StateRegistry } from './nn/state.js';
export type { StateEntry, EntryRole } from './nn/state.js';
export { oihwToHwio, hwioToOihw, nchwToNhwc, nhwcToNchw } from './nn/layout.js';

// Loss and the training step
export { ComputeLoss, smoothBce, scaleLossHyp } from './loss/compute-loss.js';
export type { LossHyp, ComputeLossOptions, LossOutput } from './loss/compute-loss.js';
export { buildTargets } from './loss/build-targets.js';
export type { LayerTargets } from './loss/build-targets.js';
export { bboxIouXywh } from './loss/iou-tensor.js';
export type { IouKind } from './loss/iou-tensor.js';
export { bceWithLogits, focalLoss } from './loss/bce.js';
export { lossAndGradients } from './train-step.js';
export type { NamedGradient, LossAndGradients, LossAndGradientsOptions, TrainLoss } from './train-step.js';

// Post-processing and metrics (host arrays)
export { xywh2xyxy, xyxy2xywh, xywhn2xyxy, xyxy2xywhn, clipBoxes, scaleBoxes, boxIou, bboxIou } from './boxes.js';
export type { RatioPad, IouVariant } from './boxes.js';
export { nonMaxSuppression } from './nms.js';
export type { NmsOptions, Detections } from './nms.js';
export { apPerClass, apSummary, computeAp, fitness, smooth, interp, linspace } from './metrics/ap.js';
export type { ApPerClassResult } from './metrics/ap.js';
export { processBatch, ConfusionMatrix, iouVector } from './metrics/match.js';

// AutoAnchor
export { labelWh, anchorMetric, anchorFitness, kmeanAnchors, checkAnchors } from './autoanchor.js';
export type { AnchorDataset, AnchorMetric, KmeanOptions, CheckAnchorsResult } from './autoanchor.js';

// Small utilities shared with other packages
export { Rng } from './util/rng.js';
export { roundHalfEven, makeDivisible, checkImgSize } from '@yolo-launch/core';
export { DetectionStats } from './metrics/val-stats.js';
export type { ValMetrics } from './metrics/val-stats.js';

// PyTorch .pt checkpoints (YOLOv5's own files): read without executing code, write what YOLOv5 loads
export * from './pt/index.js';
