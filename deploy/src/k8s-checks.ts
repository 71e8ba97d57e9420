// The Kubernetes recipe (an Indexed Job plus a headless Service), checked for what the launcher
// needs from it: a node rank from the completion index, the world size passed in and equal to
// the Job's size, a master address that the Service's DNS actually resolves, GPUs requested,
// shared memory, and the token from a Secret.
import yaml from 'js-yaml';
import { DEFAULT_TERM_TIMEOUT_SECONDS, STOP_MARGIN_SECONDS } from './compose-checks.js';
import { checkGpuRuntime } from './gpu-runtime-checks.js';
import type { Problem } from './problem.js';

type Obj = { [key: string]: unknown };

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function get(v: unknown, ...path: string[]): unknown {
  return path.reduce<unknown>((o, k) => obj(o)[k], v);
}

export interface K8sRules {
  /** Mount points the image declares as VOLUME. */
  imageVolumes: readonly string[];
  /** Launcher flags every node needs, each set from an env var of the container. */
  launcherFlags?: readonly string[];
  /** ENV of the image the pod runs: counts for the GPU runtime checks. */
  imageEnv?: ReadonlyMap<string, string | null>;
}

const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIALS?)$/i;
const COMPLETION_INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']";

export function loadManifests(texts: readonly string[]): Obj[] {
  return texts
    .flatMap((t) => yaml.loadAll(t))
    .filter((d) => d !== null && d !== undefined)
    .map(obj);
}

/** `$(VAR)` references Kubernetes expands in command/args (`$$(VAR)` is an escape). */
export function k8sVarRefs(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]!);
}

/** Records one problem of the recipe: `rule`, and what to change. */
type Fail = (rule: string, message: string) => void;

/** The parts of the Job every check reads, found once. */
interface JobParts {
  jobName: string;
  spec: Obj;
  pod: Obj;
  podLabels: Obj;
  /** The first container: the one that runs the launcher. */
  main: Obj;
  /** Its env entries by name. */
  env: Map<string, Obj>;
  /** Its args and command, as one list of words. */
  args: string[];
  mounts: Obj[];
  /** The pod's volumes by name. */
  volumes: Map<string, Obj>;
}

/** An env entry's literal value (undefined for valueFrom or no entry). */
function literal(job: JobParts, name: string): string | undefined {
  const v = job.env.get(name)?.['value'];
  return v === undefined ? undefined : String(v);
}

/** The value after a flag (`--nnodes 2` or `--nnodes=2`) in the container's args. */
function flag(job: JobParts, name: string): string | undefined {
  const { args } = job;
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

function jobParts(job: Obj, main: Obj): JobParts {
  const spec = obj(job['spec']);
  const pod = obj(get(spec, 'template', 'spec'));
  return {
    jobName: String(get(job, 'metadata', 'name') ?? ''),
    spec,
    pod,
    podLabels: obj(get(spec, 'template', 'metadata', 'labels')),
    main,
    env: new Map<string, Obj>(
      list(main['env'])
        .map(obj)
        .map((e) => [String(e['name']), e]),
    ),
    args: list(main['args']).concat(list(main['command'])).map(String),
    mounts: list(main['volumeMounts']).map(obj),
    volumes: new Map<string, Obj>(
      list(pod['volumes'])
        .map(obj)
        .map((v) => [String(v['name']), v]),
    ),
  };
}

/** The world size passed in (env NNODES), equal to the Job's size; returns it (NaN when not a literal). */
function checkWorldSize(job: JobParts, fail: Fail): number {
  const { spec } = job;
  const nnodes = Number(literal(job, 'NNODES'));
  if (!Number.isInteger(nnodes) || nnodes < 1)
    fail('world-size', 'env NNODES (the number of nodes) must be a literal positive integer');
  else {
    if (spec['completions'] !== nnodes)
      fail('world-size', `spec.completions (${String(spec['completions'])}) must equal NNODES (${nnodes})`);
    if (spec['parallelism'] !== nnodes)
      fail(
        'world-size',
        `spec.parallelism (${String(spec['parallelism'])}) must equal NNODES (${nnodes}): all nodes run at once`,
      );
  }
  return nnodes;
}

/**
 * The node rank from the completion index: either left to the launcher (it reads
 * JOB_COMPLETION_INDEX, which Kubernetes sets in Indexed Jobs, when --nnodes is given) or
 * passed explicitly from the completion-index annotation.
 */
function checkNodeRank(job: JobParts, nnodes: number, fail: Fail): void {
  const rankArg = flag(job, '--node-rank');
  if (rankArg !== undefined) {
    const rankVar = k8sVarRefs(rankArg)[0];
    const rankFrom = rankVar ? String(get(job.env.get(rankVar), 'valueFrom', 'fieldRef', 'fieldPath') ?? '') : '';
    if (rankVar !== 'JOB_COMPLETION_INDEX' && rankFrom !== COMPLETION_INDEX_ANNOTATION) {
      fail(
        'node-rank',
        `--node-rank must be the completion index: $(JOB_COMPLETION_INDEX) or an env from ${COMPLETION_INDEX_ANNOTATION}`,
      );
    }
  }
  const nnodesArg = flag(job, '--nnodes');
  if (nnodesArg === undefined || (nnodesArg !== String(nnodes) && !k8sVarRefs(nnodesArg).includes('NNODES'))) {
    fail('world-size', 'pass --nnodes $(NNODES): the launcher needs the number of pods to use JOB_COMPLETION_INDEX');
  }
}

/** The launcher flags every node needs, `--nproc ... train`, and no $(VAR) that env does not define. */
function checkArgs(job: JobParts, rules: K8sRules, fail: Fail): void {
  for (const f of rules.launcherFlags ?? ['--nnodes', '--master-addr', '--master-port', '--run-id']) {
    if (flag(job, f) === undefined) fail('args', `args must pass ${f}`);
  }
  if (flag(job, '--nproc') === undefined || !job.args.includes('train'))
    fail('args', 'args must run `--nproc gpu ... train ...`');
  for (const ref of job.args.flatMap(k8sVarRefs)) {
    if (ref !== 'JOB_COMPLETION_INDEX' && !job.env.has(ref))
      fail('args', `$(${ref}) is not defined in env: Kubernetes would pass it verbatim`);
  }
}

/** The master address resolves through the headless Service named like the pod subdomain. */
function checkMasterService(job: JobParts, services: readonly Obj[], fail: Fail): void {
  const { pod } = job;
  const service = services.find((s) => get(s, 'metadata', 'name') === pod['subdomain']);
  if (!service) {
    fail('service', `no Service named like the pod subdomain "${String(pod['subdomain'])}"`);
    return;
  }
  const serviceName = String(get(service, 'metadata', 'name'));
  const sspec = obj(service['spec']);
  if (sspec['clusterIP'] !== 'None')
    fail('service', 'the Service must be headless (clusterIP: None) for per-pod DNS names');
  if (sspec['publishNotReadyAddresses'] !== true)
    fail('service', 'publishNotReadyAddresses: true, so names resolve before pods are ready');
  for (const [k, v] of Object.entries(obj(sspec['selector']))) {
    if (job.podLabels[k] !== v) fail('service', `Service selector ${k}=${String(v)} does not match the pod labels`);
  }
  const expected = `${job.jobName}-0.${serviceName}`;
  const master = literal(job, 'MASTER_ADDR');
  if (master !== expected && !master?.startsWith(`${expected}.`))
    fail('master', `MASTER_ADDR must be pod 0's name ${expected}, got ${String(master)}`);
  const port = Number(literal(job, 'MASTER_PORT'));
  if (
    !list(sspec['ports'])
      .map(obj)
      .some((p) => p['port'] === port)
  )
    fail('master', `the Service must list MASTER_PORT ${port}`);
}

/** GPUs requested, shared memory in RAM, and the image's volumes mounted. */
function checkGpuAndMounts(job: JobParts, rules: K8sRules, fail: Fail): void {
  const { mounts, volumes } = job;
  const gpus = Number(get(job.main, 'resources', 'limits', 'nvidia.com/gpu'));
  if (!Number.isInteger(gpus) || gpus < 1) fail('gpu', 'resources.limits["nvidia.com/gpu"] must be a positive integer');
  const shm = mounts.find((m) => m['mountPath'] === '/dev/shm');
  if (!shm || get(volumes.get(String(shm['name'])), 'emptyDir', 'medium') !== 'Memory') {
    fail('shm', 'mount an emptyDir with medium: Memory on /dev/shm (the container default is 64 MB)');
  }
  for (const v of rules.imageVolumes) {
    if (!mounts.some((m) => m['mountPath'] === v)) fail('volumes', `mount ${v} (a VOLUME of the image)`);
  }
}

/** The GPU runtime checks on the container's environment (the image's ENV under the pod's env). */
function gpuRuntimeProblems(job: JobParts, rules: K8sRules, file: string): Problem[] {
  // An emptyDir dies with the pod: the JIT cache must be on storage that stays (a claim, a host path).
  const persistentMounts = job.mounts
    .filter((m) => !get(job.volumes.get(String(m['name'])), 'emptyDir'))
    .map((m) => String(m['mountPath']));
  const podEnv = new Map<string, string | null>([...(rules.imageEnv ?? new Map<string, string | null>())]);
  for (const [name, e] of job.env) podEnv.set(name, e['value'] === undefined ? null : String(e['value']));
  return checkGpuRuntime({ file, where: "the Job's container", env: podEnv, persistentMounts });
}

/** The pod's grace outlasts the launcher's --term-timeout, so that it can stop its workers. */
function checkStopGrace(job: JobParts, fail: Fail): void {
  const grace = Number(job.pod['terminationGracePeriodSeconds'] ?? 30);
  const termTimeout = Number(flag(job, '--term-timeout') ?? DEFAULT_TERM_TIMEOUT_SECONDS);
  if (grace < termTimeout + STOP_MARGIN_SECONDS) {
    fail(
      'stop',
      `terminationGracePeriodSeconds (${grace}) must exceed the launcher's --term-timeout (${termTimeout}) by ${STOP_MARGIN_SECONDS}s, or pods are killed mid-shutdown`,
    );
  }
}

/** The token: from a Secret (a mounted secret volume or a secretKeyRef), never literal. */
function checkToken(job: JobParts, fail: Fail): void {
  for (const [name, e] of job.env) {
    if (SECRET_NAME.test(name) && e['value'] !== undefined)
      fail('secret', `env ${name} holds a literal secret: use a Secret`);
  }
  const tokenFile = literal(job, 'YOLO_LAUNCH_TOKEN_FILE');
  const tokenFromEnv = get(job.env.get('YOLO_LAUNCH_TOKEN'), 'valueFrom', 'secretKeyRef');
  if (tokenFile) {
    const mount = job.mounts.find((m) => tokenFile.startsWith(`${String(m['mountPath'])}/`));
    if (!mount || !get(job.volumes.get(String(mount['name'])), 'secret', 'secretName')) {
      fail('secret', `YOLO_LAUNCH_TOKEN_FILE=${tokenFile} must be inside a mounted Secret volume`);
    }
  } else if (!tokenFromEnv) {
    fail(
      'secret',
      'the token must come from a Secret: YOLO_LAUNCH_TOKEN_FILE in a secret volume, or YOLO_LAUNCH_TOKEN from secretKeyRef',
    );
  }
}

export function checkIndexedJob(docs: readonly Obj[], file: string, rules: K8sRules): Problem[] {
  const problems: Problem[] = [];
  const fail: Fail = (rule, message) => {
    problems.push({ file, rule, message });
  };
  const job = docs.find((d) => d['kind'] === 'Job');
  const services = docs.filter((d) => d['kind'] === 'Service');
  if (!job) return [{ file, rule: 'job', message: 'no Job manifest' }];
  const spec = obj(job['spec']);
  const pod = obj(get(spec, 'template', 'spec'));
  if (spec['completionMode'] !== 'Indexed')
    fail('job', 'spec.completionMode must be Indexed (the completion index is the node rank)');
  if (pod['restartPolicy'] !== 'Never')
    fail('job', 'restartPolicy: Never (a restarted pod would rejoin a group that has moved on; use --max-restarts)');
  const main = list(pod['containers']).map(obj)[0];
  if (!main) return [...problems, { file, rule: 'job', message: 'the pod has no container' }];
  const parts = jobParts(job, main);
  const nnodes = checkWorldSize(parts, fail);
  checkNodeRank(parts, nnodes, fail);
  checkArgs(parts, rules, fail);
  checkMasterService(parts, services, fail);
  checkGpuAndMounts(parts, rules, fail);
  problems.push(...gpuRuntimeProblems(parts, rules, file));
  checkStopGrace(parts, fail);
  checkToken(parts, fail);
  return problems;
}
