// Every check before any work (train.py's checks, done up front): the options against the
// world size, --resume's checkpoint, the input files, hyperparameters, the dataset's classes,
// --weights, and the model YAML planned with the dataset's nc. Nothing is written here; every
// refusal is a UsageError (exit 2).

import * as yolo from '@yolo-launch/yolo';
import * as data from '@yolo-launch/data';
import { UsageError, validateStatic, type TrainOptions } from './options.js';
import { checkHyp, resolveInputs, type ResolvedInputs } from './config.js';
import type { DistEnv } from './dist.js';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import type { CheckedRun } from './context.js';
import { planResume } from './resume.js';
import { missingPaths } from './download.js';
import { loadTeacherCheckpoint } from './distill/teacher.js';

/** The checkpoint to resume from; refused when unreadable, finished, or without optimizer state. */
function loadResumeCheckpoint(file: string): Checkpoint {
  let checkpoint: Checkpoint;
  try {
    checkpoint = loadCheckpoint(file);
  } catch (e) {
    throw new UsageError(`--resume ${file}: ${(e as Error).message}`);
  }
  if (checkpoint.meta.epoch < 0)
    throw new UsageError(
      `--resume ${file}: training already finished (a final, stripped checkpoint); start a new run with --weights ${file}`,
    );
  if (!checkpoint.optimizer) throw new UsageError(`--resume ${file}: the checkpoint holds no optimizer state`);
  return checkpoint;
}

function loadWeightsCheckpoint(file: string): Checkpoint | null {
  if (!file) return null;
  try {
    return loadCheckpoint(file);
  } catch (e) {
    const message = (e as Error).message;
    throw new UsageError(message.startsWith(file) ? `--weights ${message}` : `--weights ${file}: ${message}`);
  }
}

/** nc and names from the dataset YAML (or the embedded dataset's classes) without touching images. */
function datasetClasses(inputs: ResolvedInputs, singleCls: boolean): { nc: number; names: string[] } {
  let names: string[];
  if (inputs.data === 'default') names = [...data.SYNTHETIC_CLASSES];
  else {
    let config: data.DatasetConfig;
    try {
      config = data.loadDatasetYaml(inputs.data);
    } catch (e) {
      throw new UsageError(`--data ${inputs.data}: ${(e as Error).message}`);
    }
    names = config.names;
    const missing = missingPaths(config);
    if (missing.length && !(typeof config.extra.download === 'string' && config.extra.download.trim())) {
      throw new UsageError(
        `--data ${inputs.data}: Dataset not found, missing paths: ${missing.join(', ')} (and no 'download:' entry)`,
      );
    }
  }
  return singleCls ? { nc: 1, names: ['item'] } : { nc: names.length, names };
}

/** A checkpoint's model definition: the parsed ModelYaml it was saved with (readModelYaml checks it again). */
function storedModelYaml(checkpoint: Checkpoint): yolo.ModelYaml {
  return checkpoint.meta.model_yaml as unknown as yolo.ModelYaml;
}

/** The model definition: --cfg, else the one stored with the resumed checkpoint / the weights. */
function modelDefinition(
  cfg: string,
  resumeCheckpoint: Checkpoint | null,
  weightsCheckpoint: Checkpoint | null,
): yolo.ModelYaml {
  try {
    if (resumeCheckpoint) return yolo.readModelYaml(storedModelYaml(resumeCheckpoint));
    if (cfg) return yolo.readModelYaml(cfg);
    if (weightsCheckpoint) return yolo.readModelYaml(storedModelYaml(weightsCheckpoint));
  } catch (e) {
    throw new UsageError(`--cfg: ${(e as Error).message}`);
  }
  throw new UsageError('either --cfg or --weights must be specified');
}

/** All checks; `options` as parsed, `given` the options named on the command line. */
export function prepare(parsedOptions: TrainOptions, given: Set<keyof TrainOptions>, distEnv: DistEnv): CheckedRun {
  const plan = planResume(parsedOptions, given, distEnv);
  const options = plan.options;
  validateStatic(options, distEnv.worldSize);
  const resumeCheckpoint = plan.checkpointFile ? loadResumeCheckpoint(plan.checkpointFile) : null;
  const inputs = resolveInputs(options);
  const hyp = resumeCheckpoint
    ? checkHyp(resumeCheckpoint.meta.hyp, `${plan.checkpointFile} (its hyperparameters)`)
    : inputs.hyp;
  const { nc, names } = datasetClasses(inputs, options.single_cls);
  const weightsCheckpoint = loadWeightsCheckpoint(inputs.weights);
  const teacherCheckpoint = options.distill ? loadTeacherCheckpoint(options.teacher_model_path, { nc, names }) : null;
  const modelYaml = modelDefinition(inputs.cfg, resumeCheckpoint, weightsCheckpoint);
  try {
    yolo.planModel(modelYaml, { nc, ...(hyp.anchors ? { anchors: Math.round(hyp.anchors) } : {}) });
  } catch (e) {
    throw new UsageError(`--cfg ${inputs.cfg || '(from checkpoint)'}: ${(e as Error).message}`);
  }
  if (options.image_weights && options.rect)
    throw new UsageError('--image-weights and --rect cannot be combined (rect batches are ordered by aspect ratio)');
  return {
    options,
    distEnv,
    plan,
    inputs,
    hyp,
    nc,
    names,
    modelYaml,
    resumeCheckpoint,
    weightsCheckpoint,
    teacherCheckpoint,
  };
}
