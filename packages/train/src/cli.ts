#!/usr/bin/env node
// `train [options]`: YOLOv5's train.py command line. Alone it trains in one process (RANK -1);
// under `yolo-launch --nproc N train ...` each rank runs this with the launcher's environment.
//
// Exit codes: 0 done; 2 bad input (nothing written); 1 anything else (the message says what).

import { runTrainCli } from './run.js';

process.exitCode = await runTrainCli(process.argv.slice(2));
