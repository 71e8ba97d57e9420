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

/**
 * The options val and detect both end with: --backend, and the YOLOv5 flags that are parsed
 * (hidden from --help) only so that the command can refuse each with its own reason, `refused`
 * (flag → why), instead of yargs' "Unknown argument".
 */
export function backendAndRefusedFlags<T>(parser: Argv<T>, refused: Readonly<Record<string, string>>) {
  const withBackend = parser.option('backend', {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'tensorflow', 'wasm', 'cpu'],
    describe: 'tfjs backend (yolo-launch)',
  });
  // yargs adds each option to the same parser; the parsed type only needs --backend's.
  for (const flag of Object.keys(refused)) withBackend.option(flag, { type: 'boolean', hidden: true });
  return withBackend;
}

/** The first refused flag that was given, as a UsageError with its reason. */
export function refuseFlags(args: Readonly<Record<string, unknown>>, refused: Readonly<Record<string, string>>): void {
  for (const [flag, why] of Object.entries(refused)) if (args[flag]) throw new UsageError(why);
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
