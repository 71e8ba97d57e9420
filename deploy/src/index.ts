// @yolo-launch/deploy: static checks for the deployment recipes in this folder (Dockerfile,
// Compose files, Kubernetes manifests). No Docker engine runs where these are tested, so the
// recipes are validated by parsing them; the tests in ../test apply these checks.
export { deployDir, repoRoot, deployPath, repoPath } from './repo.js';
export { formatProblems, type Problem } from './problem.js';
export {
  parseDockerfile,
  stageVariables,
  execForm,
  runCommands,
  findStage,
  effective,
  expand,
  type ParsedDockerfile,
  type Stage,
  type Instruction,
} from './dockerfile.js';
export { lintDockerfile, type LintOptions } from './dockerfile-lint.js';
export {
  loadCompose,
  validateComposeSchema,
  composeSchemaPath,
  interpolations,
  interpolate,
  parseEnvFile,
  parseBytes,
  parseDurationSeconds,
  strings,
  isMap,
  type ComposeMap,
  type ComposeValue,
  type Interpolation,
} from './compose.js';
export {
  checkComposeFile,
  checkTrainingService,
  environmentOf,
  commandOf,
  flagValue,
  MIN_SHM_BYTES,
  DEFAULT_TERM_TIMEOUT_SECONDS,
  STOP_MARGIN_SECONDS,
  type ServiceRules,
} from './compose-checks.js';
export { parseDockerignore, isIgnored, type IgnoreRule } from './dockerignore.js';
export { loadManifests, checkIndexedJob, k8sVarRefs, type K8sRules } from './k8s-checks.js';
export { checkAll } from './check.js';
export { validateK8sSchema } from './k8s-schema.js';
export {
  checkGpuRuntime,
  JIT_CACHE_MIN_BYTES,
  JIT_CACHE_MAX_BYTES,
  type GpuRuntimeInput,
} from './gpu-runtime-checks.js';
