#!/usr/bin/env node
// `train [options]`: YOLOv5's train.py command line. Alone it trains in one process (RANK -1);
// under `yolo-launch --nproc N train ...` each rank runs this with the launcher's environment.
//
// Exit codes: 0 done; 2 bad input (nothing written); 1 anything else (the message says what).

import type { TrainCallbacks } from './context.js';
import { runTrainCli } from './run.js';

/**
 * A test hook for the exact-resume tests, which run this command line and cannot pass a
 * callback: YOLO_TRAIN_EXIT_AFTER_EPOCH=n (train-env.ts) exits (75) after epoch n as if
 * killed, once every rank has finished the epoch. Never set by users.
 */
function exitAfterEpoch(exitEpoch: number | null): TrainCallbacks {
  if (exitEpoch === null) return {};
  return {
    onTrainEpochEnd: async ({ epoch, processGroup, log }) => {
      if (epoch !== exitEpoch) return;
      await processGroup.barrier();
      log.flush();
      process.exit(75);
    },
  };
}

process.exitCode = await runTrainCli(process.argv.slice(2), (env) => exitAfterEpoch(env.exitAfterEpoch));
