// Resuming: which checkpoint and run folder (--resume [path], or auto-resume after a
// launcher restart, RESTART_COUNT > 0, found by the run's marker file), the options the run
// started with (its opt.yaml), and the training state restored from the checkpoint.

import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { UsageError, defaultOptions, type TrainOptions } from './options.js';
import { latestRun, checkFile } from './paths.js';
import type { DistEnv } from './dist.js';
import type { ResumePlan, TrainContext, TrainingState } from './context.js';
import { ModelEMA } from './ema.js';
import { EarlyStopping } from './early-stopping.js';
import { truncateResults } from './results.js';
import { loadOptimizerTensors } from './train-checkpoint.js';

/** The file in a run folder naming the launcher job (YOLO_LAUNCH_RUN_ID) that owns it. */
export const RUN_MARKER = '.yolo-launch-run.json';

/** The run folder of this launcher job (YOLO_LAUNCH_RUN_ID), for restarts. */
function findRunDir(project: string, runId: string): string | null {
  if (!fs.existsSync(project)) return null;
  for (const entry of fs.readdirSync(project)) {
    const marker = path.join(project, entry, RUN_MARKER);
    try {
      if ((JSON.parse(fs.readFileSync(marker, 'utf8')) as { run_id?: string }).run_id === runId)
        return path.join(project, entry);
    } catch {
      // not ours
    }
  }
  return null;
}

function optionsFromOptYaml(file: string): TrainOptions {
  if (!fs.existsSync(file))
    throw new UsageError(`--resume: ${file} not found; the run folder must hold the opt.yaml written at its start`);
  const saved = yaml.load(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const defaults = defaultOptions() as unknown as Record<string, unknown>;
  // Ours, or a YOLOv5 run's opt.yaml: its keys we do not have (save_dir, local_rank, ...) are
  // dropped, and its nulls (entity: null) mean the option's default.
  const known = Object.entries(saved).filter(([key, value]) => key in defaults && value !== null);
  const options = { ...defaults, ...Object.fromEntries(known) } as unknown as TrainOptions & { hyp: unknown };
  // opt.yaml keeps the hyperparameters as a mapping (as YOLOv5 does); the file path of the run is hyp.yaml.
  if (typeof options.hyp !== 'string') options.hyp = path.join(path.dirname(file), 'hyp.yaml');
  return options as TrainOptions;
}

/**
 * Resume from `lastPt` (save_dir/weights/last.pt): the run's own options, this checkpoint,
 * and `backend` when given (the backend is a property of this machine, not of the run).
 */
export function resumeFrom(lastPt: string, backend: string | undefined): ResumePlan {
  const saveDir = path.dirname(path.dirname(lastPt));
  const options = optionsFromOptYaml(path.join(saveDir, 'opt.yaml'));
  options.resume = lastPt;
  options.weights = '';
  options.cfg = '';
  if (backend !== undefined) options.backend = backend;
  return { checkpointFile: lastPt, saveDir, options };
}

/** --resume [path], or auto-resume after a launcher restart (RESTART_COUNT > 0). */
export function planResume(options: TrainOptions, given: Set<keyof TrainOptions>, distEnv: DistEnv): ResumePlan {
  if (options.resume !== false) {
    let last: string;
    if (typeof options.resume === 'string') last = checkFile(options.resume, '--resume', []);
    else {
      last = latestRun(path.resolve(options.project)) || latestRun(path.resolve('runs'));
      if (!last)
        throw new UsageError(
          `--resume: nothing to resume, no last.pt under ${path.resolve(options.project)}; start a new run without --resume, or give --resume path/to/last.pt`,
        );
    }
    return resumeFrom(last, given.has('backend') ? options.backend : undefined);
  }
  if (distEnv.restartCount > 0 && distEnv.runId) {
    const dir = findRunDir(path.resolve(options.project), distEnv.runId);
    if (dir) {
      const last = path.join(dir, 'weights', 'last.pt');
      // A restart before the first checkpoint reuses the folder and starts afresh.
      return fs.existsSync(last) ? resumeFrom(last, options.backend) : { checkpointFile: null, saveDir: dir, options };
    }
  }
  return { checkpointFile: null, saveDir: null, options };
}

/**
 * The state the epoch loop starts from: fresh, or the resumed checkpoint's epoch, fitness,
 * early-stopping state, per-class mAPs, optimizer buffers and EMA. results.csv keeps only the
 * rows of the epochs before the start (a restart repeats none).
 */
export function startingState(ctx: TrainContext): TrainingState {
  const { options, state, log } = ctx;
  const isMain = ctx.distEnv.rank <= 0;
  const resultsFile = path.join(ctx.saveDir, 'results.csv');
  const training: TrainingState = {
    startEpoch: 0,
    bestFitness: 0.0,
    lastOptStep: -1,
    maps: new Array<number>(ctx.nc).fill(0),
    stopper: new EarlyStopping(options.patience),
    ema: isMain
      ? new ModelEMA([...state.floatState()].map(([name, v]) => ({ name, shape: [v.length], data: v })))
      : null,
  };
  const checkpoint = ctx.resumeCheckpoint;
  if (!checkpoint) {
    // A fresh start in a reused folder (restart before the first checkpoint): no stale rows.
    if (isMain) truncateResults(resultsFile, 0);
    return training;
  }
  training.startEpoch = checkpoint.meta.epoch + 1;
  training.bestFitness = checkpoint.meta.best_fitness;
  training.stopper.bestFitness = checkpoint.meta.best_fitness;
  training.stopper.bestEpoch = checkpoint.meta.best_epoch;
  if (checkpoint.meta.maps.length === ctx.nc) training.maps = [...checkpoint.meta.maps];
  training.lastOptStep = Number(checkpoint.meta.extra?.last_opt_step ?? -1);
  loadOptimizerTensors(ctx, checkpoint);
  if (training.ema && checkpoint.ema) {
    const emaState = state.floatStateFromCheckpoint(checkpoint.ema);
    training.ema.load(
      [...emaState].map(([name, v]) => ({ name, data: v })),
      checkpoint.meta.updates ?? 0,
    );
  }
  if (training.startEpoch >= options.epochs)
    throw new Error(`${options.resume} training to ${options.epochs} epochs is finished, nothing to resume`);
  if (isMain) {
    log.info(
      `Resuming training from ${String(options.resume)} from epoch ${training.startEpoch} to ${options.epochs} total epochs`,
    );
    truncateResults(resultsFile, training.startEpoch);
  }
  return training;
}
