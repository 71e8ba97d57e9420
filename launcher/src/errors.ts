/**
 * Bad input from the user (flags, hostfile, environment). The CLI prints the message on one
 * line and exits with code 2, like argparse/torchrun do for usage errors.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit code for usage errors (argparse convention, shared with torchrun). */
export const USAGE_EXIT_CODE = 2;

/** Exit code of a job that failed for any other reason. */
export const WORKER_FAILED_EXIT_CODE = 1;

/**
 * The launcher's exit code for a failed job, from how the process that failed first ended (a
 * worker on this node, or a node launcher on another host, which passes its worker's code on):
 * a usage error (exit 2, argparse's code: a bad train option) stays 2 so scripts can tell bad
 * input from a crash; anything else is 1.
 */
export function failedJobExitCode(failure: { code: number | null } | null | undefined): number {
  return failure?.code === USAGE_EXIT_CODE ? USAGE_EXIT_CODE : WORKER_FAILED_EXIT_CODE;
}
