// @yolo-launch/infer: val.py and detect.py for our checkpoints, on one rank or N; see README.md.
export { runValCli } from './val-cli.js';
export { USAGE_EXIT_CODE } from './cli-common.js';
export { runDetectCli } from './detect-cli.js';
export { parseValArgs, VAL_TASKS, type ValOptions, type ValTask } from './val-options.js';
export { parseDetectArgs, type DetectOptions } from './detect-options.js';
export { listSource, VID_FORMATS } from './sources.js';
export { labelLines, cocoRecords, COCO80_TO_91, type CocoRecord } from './labels-txt.js';
export { precheck } from './precheck.js';
