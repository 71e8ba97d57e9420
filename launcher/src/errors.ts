/**
 * Bad input from the user (flags, hostfile, environment). The CLI prints the message on one
 * line and exits with code 2, like argparse/torchrun do for usage errors.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit code for usage errors (argparse convention, shared with torchrun). */
export const USAGE_EXIT_CODE = 2;
