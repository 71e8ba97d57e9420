export { launch, DEFAULT_MASTER_PORT, type LaunchOptions, type LaunchResult } from './launch.js';
export {
  workerEnv,
  assignDevices,
  threadBudget,
  CONTRACT_VARIABLES,
  SECRET_VARIABLES,
  type WorkerPlacement,
  type JobIdentity,
} from './contract.js';
export {
  parseHostfile,
  readHostfile,
  parseHostSelector,
  selectHosts,
  type HostEntry,
  type SelectedHost,
} from './hostfile.js';
export {
  detectScheduler,
  expandSlurmHostlist,
  expandSlurmTasksPerNode,
  derivedToken,
  type SchedulerPlacement,
  type TaskPlacement,
  type NodePlacement,
} from './schedulers.js';
export { detectGpus, parseNproc, resolveNproc, type NprocSpec } from './gpus.js';
export { freePort, findPortOwner, assertPortFree, type PortOwner } from './ports.js';
export { resolveTrainCli } from './train-entry.js';
export { UsageError, USAGE_EXIT_CODE } from './errors.js';
export { parseCommandLine, main, OPTIONS } from './command-line.js';
export type { WorkerFailure } from './worker-group.js';
export { OPTION_NAMES, OPTION_VARIABLES, optionVariable } from './option-names.js';
export { forwardedEnv, type NodeLaunchConfig } from './multinode.js';
export {
  runDoctor,
  parseDoctorArgs,
  diagnose,
  judge,
  type DoctorReport,
  type Verdict,
  type DoctorMachine,
} from './doctor/index.js';
