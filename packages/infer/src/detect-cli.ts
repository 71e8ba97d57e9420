#!/usr/bin/env node
/**
 * `yolo-launch [--nproc N] detect [options]` (detect.py), one process per rank. Exit codes: 0 done;
 * 2 bad input (one `detect: error: ...` line, nothing written under runs/); 1 anything else.
 */
import { fileURLToPath } from 'node:url';
import { isUsageError, USAGE_EXIT_CODE } from './val-cli.js';
import { parseDetectArgs } from './detect-options.js';

export async function runDetectCli(argv: readonly string[]): Promise<number> {
  try {
    const opts = await parseDetectArgs(argv);
    if (!opts) return 0;
    const { runDetect } = await import('./detect-run.js');
    await runDetect(opts);
    return 0;
  } catch (err) {
    if (isUsageError(err)) {
      process.stderr.write(`detect: error: ${err.message}\n`);
      return USAGE_EXIT_CODE;
    }
    throw err;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runDetectCli(process.argv.slice(2));
