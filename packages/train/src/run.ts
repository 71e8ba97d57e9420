// `train`: YOLOv5's train.py flow, with DDP done right.
//
//   1. options (and --resume / auto-resume) and every check, before anything is written,
//      every refusal a UsageError (exit 2): prepare.ts;
//   2. backend, process group, log: here;
//   3. save_dir, opt.yaml, hyp.yaml, dataset, model, optimizer, DDP, loaders: setup.ts;
//   4. the epoch loop (loop.ts), then the final validation of best.pt (final.ts);
//      --evolve repeats 3-4 per generation (evolve-run.ts).

import { initBackend, tf } from '@yolo-launch/backend';
import { UsageError, helpText, parseTrainArgs } from './options.js';
import { downloadReleaseWeights, needsDownload } from './weights-download.js';
import { distEnv as readDistEnv, openProcessGroup } from './dist.js';
import { TrainLog } from './log.js';
import type { TrainCallbacks, TrainResult } from './context.js';
import { prepare } from './prepare.js';
import { registerTileGradient } from './tile-grad.js';
import { runOnce } from './single-run.js';
import { runEvolve } from './evolve-run.js';
import { afterDeviceRequest, processTrainEnv, type TrainEnv } from './train-env.js';

export type { TrainCallbacks, TrainResult } from './context.js';

/**
 * CLI wrapper: the environment switches read once (a bad one is bad input), then the run;
 * exit code 0 / 1 / 2 and one clear line for bad input. `callbacks` may depend on the switches
 * (the bin's test hook does).
 */
export async function runTrainCli(
  argv: readonly string[],
  callbacks: TrainCallbacks | ((env: TrainEnv) => TrainCallbacks) = {},
): Promise<number> {
  let debug = false;
  try {
    const env = processTrainEnv();
    debug = env.debug;
    await train(argv, typeof callbacks === 'function' ? callbacks(env) : callbacks, env);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`train: error: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`train: ${e.name ?? 'Error'}: ${e.message}\n${debug ? (e.stack ?? '') + '\n' : ''}`);
    return 1;
  }
}

/** One training run (or --evolve) from train.py's arguments; `env`: the switches (train-env.ts). */
export async function train(
  argv: readonly string[],
  callbacks: TrainCallbacks = {},
  env: TrainEnv = processTrainEnv(),
): Promise<TrainResult | null> {
  const parsed = parseTrainArgs(argv);
  if (parsed.help) {
    process.stdout.write(helpText() + '\n');
    return null;
  }
  const distEnvironment = readDistEnv();
  // attempt_download: a YOLOv5 release name (yolov5s.pt, ...) not on disk is fetched first.
  if (needsDownload(parsed.options.weights)) await downloadReleaseWeights(parsed.options.weights, distEnvironment, env);
  const checked = prepare(parsed.options, parsed.given, distEnvironment);
  const { options, distEnv } = checked;
  const log = new TrainLog(distEnv.rank, { jsonConsole: env.logJson });
  await initBackend({ backend: options.backend as 'auto' | 'tensorflow' | 'wasm' | 'cpu', device: options.device });
  const runEnv = options.device ? afterDeviceRequest(env) : env;
  registerTileGradient();
  const backend = tf.getBackend();
  const processGroup = await openProcessGroup(distEnv);
  try {
    const run = { ...checked, processGroup, log, backend, callbacks, env: runEnv };
    return options.evolve !== undefined ? await runEvolve(run, options.evolve) : await runOnce(run);
  } finally {
    log.flush();
    await processGroup.destroy();
  }
}
