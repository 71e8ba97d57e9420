// @yolo-launch/core: small, dependency-free helpers several packages share.
export { roundHalfEven, pyMod, makeDivisible, checkImgSize } from './rounding.js';
export { mixSeed, Sfc32Rng, Mulberry32Rng, splitmix32 } from './rng.js';
export { fnv1aWords, fnv1a64, FNV_OFFSET, FNV_PRIME } from './hash.js';
export {
  readWorkerEnv,
  isLaunchedWorker,
  WORKER_VARIABLES,
  WorkerEnvError,
  type WorkerEnv,
  type WorkerEnvGiven,
  type WorkerVariable,
  type WorkerVariableKey,
} from './worker-env.js';
