// The types every stage of a training run shares. Types only, imported as types from the
// leaf modules (options, dist, log, checkpoint, ...), never from a stage of the flow, so
// that every stage can import this file without an import cycle.
//
//   prepare.ts -> CheckedRun     (all checks passed, nothing written yet)
//   run.ts     -> PreparedRun    (+ backend, process group, log)
//   setup.ts   -> TrainContext   (+ save_dir, model, optimizer, DDP, loaders; read-only after)
//   loop.ts    -> TrainingState  (what changes from epoch to epoch), TrainResult

import type * as yolo from '@yolo-launch/yolo';
import type * as data from '@yolo-launch/data';
import type { DistributedDataParallel, DistributedSampler } from '@yolo-launch/ddp';
import type { ProcessGroup } from '@yolo-launch/comm';
import type { TrainOptions } from './options.js';
import type { DistEnv } from './dist.js';
import type { TrainLog } from './log.js';
import type { Hyp, ResolvedInputs } from './config.js';
import type { ModelState } from './model-state.js';
import type { YoloOptimizer } from './optimizer.js';
import type { BatchSource } from './batches.js';
import type { TrainTensorBoard } from './tensorboard/logger.js';
import type { TrainEnv } from './train-env.js';
import type { Checkpoint } from './checkpoint.js';
import type { ModelEMA } from './ema.js';
import type { EarlyStopping } from './early-stopping.js';
import type { Distiller } from './distill/distiller.js';

/** Final validation of best.pt: P, R, mAP50, mAP50-95 and the mean losses [box, obj, cls]. */
export interface FinalMetrics {
  p: number;
  r: number;
  map50: number;
  map: number;
  loss: number[];
}

export interface TrainResult {
  saveDir: string;
  /** Epochs completed in this process (from the start or resume epoch). */
  epochsRun: number;
  lastEpoch: number;
  bestFitness: number;
  stoppedEarly: boolean;
  /** Final validation (P, R, mAP50, mAP50-95) on rank 0, when run. */
  final?: FinalMetrics;
}

/** What `on_train_epoch_end` callbacks get (every rank, after the epoch's checkpoint). */
export interface EpochEndEvent {
  epoch: number;
  processGroup: ProcessGroup;
  log: TrainLog;
}

/** Hooks into the run, as YOLOv5's callbacks.run('on_train_epoch_end'); tests pass them in. */
export interface TrainCallbacks {
  onTrainEpochEnd?: (event: EpochEndEvent) => Promise<void> | void;
}

/** Where the run continues from: a checkpoint (--resume or a launcher restart) and/or a run folder. */
export interface ResumePlan {
  /** Checkpoint to resume from, or null for a fresh start. */
  checkpointFile: string | null;
  /** The run folder to reuse, or null for a new runs/train/exp<N>. */
  saveDir: string | null;
  /** The options to train with (the run's opt.yaml when resuming). */
  options: TrainOptions;
}

/** Everything checked before any work: the output of prepare.ts. */
export interface CheckedRun {
  options: TrainOptions;
  distEnv: DistEnv;
  plan: ResumePlan;
  inputs: ResolvedInputs;
  /** As given (hyp.yaml, or the resumed checkpoint's); what checkpoints keep. */
  hyp: Hyp;
  nc: number;
  names: string[];
  modelYaml: yolo.ModelYaml;
  resumeCheckpoint: Checkpoint | null;
  weightsCheckpoint: Checkpoint | null;
  /** --distill: the teacher's file, read and checked (same classes as the dataset). */
  teacherCheckpoint: Checkpoint | null;
}

/** A checked run with its backend, process group and log open. */
export interface PreparedRun extends CheckedRun {
  processGroup: ProcessGroup;
  log: TrainLog;
  backend: string;
  callbacks: TrainCallbacks;
  /** The environment switches, read once at start (train-env.ts). */
  env: TrainEnv;
}

/** What setup.ts built; read-only during the epochs. */
export interface TrainContext {
  readonly options: TrainOptions;
  readonly distEnv: DistEnv;
  readonly processGroup: ProcessGroup;
  readonly log: TrainLog;
  /** Hyperparameters after train.py's scaling (weight decay, box/cls/obj, label smoothing). */
  readonly hyp: Hyp;
  /** As given (hyp.yaml); what checkpoints keep. */
  readonly hypOriginal: Hyp;
  readonly nc: number;
  readonly names: string[];
  readonly model: yolo.YoloModel;
  readonly state: ModelState;
  readonly optimizer: YoloOptimizer;
  readonly ddp: DistributedDataParallel;
  readonly sampler: DistributedSampler;
  readonly trainLoader: BatchSource;
  readonly valLoader: BatchSource | null;
  readonly trainDataset: data.YoloDataset;
  readonly valDataset: data.YoloDataset | null;
  readonly imgsz: number;
  /** The model's largest stride (at least 32): image sizes are multiples of it. */
  readonly gridStride: number;
  readonly batchesPerEpoch: number;
  readonly batchPerRank: number;
  readonly saveDir: string;
  /** save_dir/weights: last.pt, best.pt, epoch<N>.pt. */
  readonly weightsDir: string;
  readonly resumeCheckpoint: Checkpoint | null;
  readonly modelYaml: yolo.ModelYaml;
  /** labels_to_class_weights of the training labels (sum 1). */
  readonly classWeights: Float32Array;
  readonly seed: number;
  readonly callbacks: TrainCallbacks;
  /** The environment switches, read once at start (train-env.ts). */
  readonly env: TrainEnv;
  /** Rank 0's TensorBoard writer (null on other ranks, with --evolve or --notensorboard). */
  readonly tensorboard: TrainTensorBoard | null;
  /** --distill: the frozen teacher and the distillation loss (src/distill/); null otherwise. */
  readonly distill: Distiller | null;
}

/** What changes from epoch to epoch (rank 0 owns the EMA, the stopper and the metrics). */
export interface TrainingState {
  startEpoch: number;
  bestFitness: number;
  /** The iteration of the last optimizer step (accumulation counts from it). */
  lastOptStep: number;
  /** Per-class mAP50-95 of the last validation (image weights). */
  maps: number[];
  stopper: EarlyStopping;
  /** Rank 0 only. */
  ema: ModelEMA | null;
}

/** Where an epoch's time went, in ms (this rank), summed over the run. */
export interface Timings {
  data: number;
  compute: number;
  /** --distill: the teacher's forward (part of compute). */
  teacher: number;
  allReduce: number;
  /**
   * Part of allReduce: on optimizer steps, the wait for all-reduces still in flight after the
   * backward (ddp's lastTimings.allReduceWait: what the overlap did not hide, incl. waiting
   * for the slower rank).
   */
  allReduceWait: number;
  /** Optimizer steps taken (all-reduces of the gradients). */
  optimizerSteps: number;
  optimizer: number;
  validation: number;
  epochs: number;
  images: number;
}
