#!/usr/bin/env node
/**
 * `yolo-launch [--nproc N] val [options]` (val.py), one process per rank. Exit codes: 0 done;
 * 2 bad input (one `val: error: ...` line, nothing written under runs/); 1 anything else.
 */
import { fileURLToPath } from 'node:url';
import { parseValArgs } from './val-options.js';
import { runCommand } from './cli-common.js';

export function runValCli(argv: readonly string[]): Promise<number> {
  // the model, tfjs and the loaders load only once the command line is known to be good
  return runCommand(
    'val',
    () => parseValArgs(argv),
    async (opts) => (await import('./val-run.js')).runVal(opts),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runValCli(process.argv.slice(2));
