#!/usr/bin/env node
/**
 * `yolo-launch [--nproc N] val [options]` (val.py), one process per rank. Exit codes: 0 done;
 * 2 bad input (one `val: error: ...` line, nothing written under runs/); 1 anything else.
 */
import { fileURLToPath } from 'node:url';
import { UsageError, WeightsError } from '@yolo-launch/export';
import { parseValArgs } from './val-options.js';

export const USAGE_EXIT_CODE = 2;

/** Bad input the user can fix: exit 2 with one line. */
export function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof WeightsError || (err instanceof Error && err.name === 'YError');
}

export async function runValCli(argv: readonly string[]): Promise<number> {
  try {
    const opts = await parseValArgs(argv);
    if (!opts) return 0;
    const { runVal } = await import('./val-run.js');
    await runVal(opts);
    return 0;
  } catch (err) {
    if (isUsageError(err)) {
      process.stderr.write(`val: error: ${err.message}\n`);
      return USAGE_EXIT_CODE;
    }
    throw err;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runValCli(process.argv.slice(2));
