export { runTrainCli, train, type TrainCallbacks, type TrainResult } from './run.js';
export {
  parseTrainArgs,
  defaultOptions,
  validateStatic,
  helpText,
  UsageError,
  OPTION_SPECS,
  DEFAULT_DATA,
  type TrainOptions,
} from './options.js';
export {
  Schedule,
  lrLambda,
  linearLf,
  oneCycleLf,
  emaDecay,
  interp,
  initialAccumulate,
  scaledWeightDecay,
  warmupIterations,
  NBS,
} from './schedule.js';
export {
  YoloOptimizer,
  clipGradNorm,
  groupOf,
  type OptimizerName,
  type ParamSlot,
  type OptimizerState,
} from './optimizer.js';
export { ModelEMA } from './ema.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
  stripOptimizer,
  writeFileAtomic,
  CheckpointError,
  type Checkpoint,
  type CheckpointMeta,
  type NamedTensor,
} from './checkpoint.js';
export { RESULT_KEYS, formatG, resultsHeader, resultsRow, appendResults, readResults } from './results.js';
export { incrementPath, checkFile, checkYaml, latestRun, HYP_DIR } from './paths.js';
export { distEnv, LocalProcessGroup, type DistEnv } from './dist.js';
/** Re-exported for tests and scripts that make small synthetic datasets. */
export { ensureSyntheticDataset, loadDatasetYaml } from '@yolo-launch/data';
/** Validation for `yolo-launch val` and the trainer alike (see val.ts, val-shard.ts). */
export { validate, validateAll } from './val.js';
export { valHeader, valRow } from './val-table.js';
export type { ValResult, ClassRow, ValSpeed } from './val-result.js';
export type { ValidationInputs, ValidateOptions, ImageDetections } from './val-inputs.js';
export { ownedBatches, ownedIndices, gatherParts, WHOLE_SET, type ValShard } from './val-shard.js';
export { createBatchSource, type BatchSource, type Batch } from './batches.js';
export { writePlots } from './plots.js';
export { TrainLog } from './log.js';
export { openProcessGroup } from './dist.js';
export { readTrainEnv, readEnvSwitch, TRAIN_ENV, type TrainEnv } from './train-env.js';
