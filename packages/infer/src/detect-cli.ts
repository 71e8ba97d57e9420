#!/usr/bin/env node
/**
 * `yolo-launch [--nproc N] detect [options]` (detect.py), one process per rank. Exit codes: 0
 * done; 2 bad input (one `detect: error: ...` line, nothing written under runs/); 1 anything else.
 */
import { fileURLToPath } from 'node:url';
import { parseDetectArgs } from './detect-options.js';
import { runCommand } from './cli-common.js';

export function runDetectCli(argv: readonly string[]): Promise<number> {
  return runCommand(
    'detect',
    () => parseDetectArgs(argv),
    async (opts) => (await import('./detect-run.js')).runDetect(opts),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runDetectCli(process.argv.slice(2));
