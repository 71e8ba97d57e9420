/**
 * The launcher's option names (kebab case). Each can be set with YOLO_LAUNCH_<NAME>; those
 * variables configure the launcher and are not passed on to workers. Other YOLO_LAUNCH_*
 * variables (YOLO_LAUNCH_DATASETS, ...) belong to the packages and are passed on.
 */
export const OPTION_NAMES = [
  'nproc',
  'nnodes',
  'node-rank',
  'master-addr',
  'master-port',
  'standalone',
  'hostfile',
  'include',
  'exclude',
  'ssh',
  'max-restarts',
  'monitor-interval',
  'log-dir',
  'tee',
  'local-ranks-filter',
  'run-id',
  'term-timeout',
  'threads',
  'preflight',
  'scheduler',
  'stdin-config',
  'rank-offset',
  'world-size',
] as const;

export type OptionName = (typeof OPTION_NAMES)[number];

export function optionVariable(name: string): string {
  return `YOLO_LAUNCH_${name.replace(/-/g, '_').toUpperCase()}`;
}

/** YOLO_LAUNCH_NPROC, YOLO_LAUNCH_MASTER_PORT, ...: the launcher's own configuration. */
export const OPTION_VARIABLES: ReadonlySet<string> = new Set(OPTION_NAMES.map(optionVariable));
