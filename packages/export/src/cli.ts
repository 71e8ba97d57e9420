#!/usr/bin/env node
/**
 * `yolo-launch export [options]` (export.py). Exit codes: 0 done; 2 bad input (unsupported
 * --include, missing or unreadable --weights, ...: one line, nothing written); 1 anything else.
 */
import { fileURLToPath } from 'node:url';
import { UsageError, WeightsError } from './errors.js';
import { parseExportArgs } from './options.js';

export const USAGE_EXIT_CODE = 2;

export async function runExportCli(argv: readonly string[]): Promise<number> {
  try {
    const opts = await parseExportArgs(argv);
    if (!opts) return 0;
    // the model, tfjs and the writers load only once the command line is known to be good
    const { runExport } = await import('./export.js');
    await runExport(opts);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof WeightsError || (err instanceof Error && err.name === 'YError')) {
      process.stderr.write(`export: error: ${err.message}\n`);
      return USAGE_EXIT_CODE;
    }
    throw err;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runExportCli(process.argv.slice(2));
