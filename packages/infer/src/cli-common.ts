// What the val and detect command lines share: argparse-like strictness (unknown flags
// refused, no --version, --help printed and reported) and the exit codes of a rank's CLI.

import type { Argv } from 'yargs';
import { UsageError, WeightsError } from '@yolo-launch/export';

export const USAGE_EXIT_CODE = 2;

/** Strict parsing that throws UsageError instead of exiting. */
export function strict<T>(parser: Argv<T>): Argv<T> {
  return parser
    .strict()
    .version(false)
    .help('help')
    .alias('help', 'h')
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
}

/** Bad input the user can fix: exit 2 with one line. */
export function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof WeightsError || (err instanceof Error && err.name === 'YError');
}

/** Parse (null after --help), run, and map bad input to `<name>: error: ...` and exit 2. */
export async function runCommand<O>(
  name: string,
  parse: () => Promise<O | null>,
  run: (options: O) => Promise<unknown>,
): Promise<number> {
  try {
    const options = await parse();
    if (!options) return 0;
    await run(options);
    return 0;
  } catch (err) {
    if (isUsageError(err)) {
      process.stderr.write(`${name}: error: ${err.message}\n`);
      return USAGE_EXIT_CODE;
    }
    throw err;
  }
}
