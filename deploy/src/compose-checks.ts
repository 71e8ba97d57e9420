// What a Compose service that trains on GPUs must have, beyond what the schema checks: every GPU
// reserved, enough shared memory, an init and a stop sequence that lets the launcher shut its
// workers down, the image's volumes mounted, and no secret written into the file.
import {
  isMap,
  interpolations,
  parseBytes,
  parseDurationSeconds,
  strings,
  type ComposeMap,
  type ComposeValue,
} from './compose.js';
import { checkGpuRuntime } from './gpu-runtime-checks.js';
import type { Problem } from './problem.js';

export interface ServiceRules {
  file: string;
  /** One container per node with host networking, ranks from .env, token from a secret. */
  multinode: boolean;
  /** Mount points the image declares as VOLUME; each must be mounted. */
  imageVolumes: readonly string[];
  /** Stage names of deploy/Dockerfile (for build.target). */
  stages: readonly string[];
  /** ENV of the image the service runs (the gpu stage): counts for the GPU runtime checks. */
  imageEnv?: ReadonlyMap<string, string | null>;
}

export const MIN_SHM_BYTES = 1024 ** 3;
/** The launcher's SIGTERM → SIGKILL wait for its workers when --term-timeout is not given. */
export const DEFAULT_TERM_TIMEOUT_SECONDS = 10;
/** What the container's stop grace must add to --term-timeout: the launcher's own exit. */
export const STOP_MARGIN_SECONDS = 10;

const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIALS?)$/i;
/** A literal that looks like key material: long hex or base64 without any interpolation. */
const SECRET_LITERAL = /^(?:[0-9a-fA-F]{32,}|[A-Za-z0-9+/_-]{40,}={0,2})$/;

/** environment: as a map whichever way it is written (list of K=V or mapping). */
export function environmentOf(service: ComposeMap): Map<string, string | null> {
  const env = new Map<string, string | null>();
  const raw = service['environment'];
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const [k, ...rest] = String(item).split('=');
      env.set(k!, rest.length ? rest.join('=') : null);
    }
  } else if (isMap(raw)) {
    for (const [k, v] of Object.entries(raw)) env.set(k, v === null ? null : String(v));
  }
  return env;
}

export function commandOf(service: ComposeMap): string[] | null {
  const c = service['command'];
  return Array.isArray(c) ? c.map((x) => String(x)) : null;
}

/** The value after a flag (`--nproc gpu` or `--nproc=gpu`), or undefined. */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  for (const [i, a] of args.entries()) {
    if (a === flag) return args[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

/** Mount targets; tmpfs mounts (gone with the container) only with `withTmpfs`. */
function mountTargets(service: ComposeMap, withTmpfs = true): string[] {
  const volumes = service['volumes'];
  if (!Array.isArray(volumes)) return [];
  return volumes
    .filter((v) => withTmpfs || !isMap(v) || v['type'] !== 'tmpfs')
    .map((v) => {
      if (isMap(v)) return String(v['target'] ?? '');
      // `${VAR:-default}` holds colons of its own: blank it out before splitting.
      const parts = String(v)
        .replace(/\$\{[^}]*\}/g, 'VAR')
        .split(':');
      // short syntax: [source:]target[:mode]
      return parts.length === 1 ? parts[0]! : parts[1]!;
    });
}

function hasGpuReservation(service: ComposeMap): boolean {
  const deploy = service['deploy'];
  const resources = isMap(deploy) ? deploy['resources'] : undefined;
  const reservations = isMap(resources) ? resources['reservations'] : undefined;
  const devices = isMap(reservations) ? reservations['devices'] : undefined;
  if (!Array.isArray(devices)) return false;
  return devices.some((d: ComposeValue) => {
    if (!isMap(d)) return false;
    const caps = d['capabilities'];
    const count = d['count'];
    const countOk = count === 'all' || (typeof count === 'number' && count > 0) || Array.isArray(d['device_ids']);
    return d['driver'] === 'nvidia' && Array.isArray(caps) && caps.includes('gpu') && countOk;
  });
}

function isInterpolated(value: string | undefined): boolean {
  return value !== undefined && interpolations(value).length > 0;
}

/** Records one problem of the service under check: `rule`, and what to change. */
type Fail = (rule: string, message: string) => void;

/** build: our Dockerfile from the repository root, one of its stages. */
function checkBuild(service: ComposeMap, rules: ServiceRules, fail: Fail): void {
  const build = service['build'];
  if (!isMap(build)) return;
  if (build['dockerfile'] !== 'deploy/Dockerfile')
    fail('build', 'build.dockerfile must be deploy/Dockerfile (context: the repository root)');
  if (typeof build['target'] !== 'string' || !rules.stages.includes(build['target'])) {
    fail('build', `build.target must be one of the Dockerfile's stages (${rules.stages.join(', ')})`);
  }
}

/** Every GPU reserved, and shared memory enough for data loading. */
function checkResources(service: ComposeMap, fail: Fail): void {
  if (!hasGpuReservation(service)) {
    fail(
      'gpu',
      'reserve the GPUs: deploy.resources.reservations.devices: [{driver: nvidia, count: all, capabilities: [gpu]}]',
    );
  }
  const shm = service['shm_size'];
  const shmOk =
    service['ipc'] === 'host' ||
    ((typeof shm === 'string' || typeof shm === 'number') && parseBytes(shm) >= MIN_SHM_BYTES);
  if (!shmOk) fail('shm', 'set ipc: host or shm_size of at least 1gb (the 64 MB default breaks data loading)');
}

/** An init, a stop signal the launcher forwards, and a grace that outlasts its --term-timeout. */
function checkStopSequence(service: ComposeMap, fail: Fail): void {
  if (service['init'] !== true)
    fail('init', 'set init: true so that PID 1 reaps processes and forwards the stop signal');
  const signal = service['stop_signal'];
  if (signal !== 'SIGTERM' && signal !== 'SIGINT')
    fail('stop', 'stop_signal must be SIGTERM or SIGINT: the launcher forwards those to its workers');
  // Docker SIGKILLs the whole container when the grace runs out: it must outlast the launcher's
  // own SIGTERM → SIGKILL wait for its workers (--term-timeout).
  const command = commandOf(service);
  const termTimeout = Number((command && flagValue(command, '--term-timeout')) ?? DEFAULT_TERM_TIMEOUT_SECONDS);
  const grace = service['stop_grace_period'];
  const graceSeconds = typeof grace === 'string' ? parseDurationSeconds(grace) : 10;
  if (graceSeconds < termTimeout + STOP_MARGIN_SECONDS) {
    fail(
      'stop',
      `stop_grace_period (${String(grace ?? '10s default')}) must exceed --term-timeout (${termTimeout}s) by ${STOP_MARGIN_SECONDS}s, or Docker SIGKILLs workers mid-checkpoint`,
    );
  }
}

/** The command: a list that runs `yolo-launch --nproc ... train`, with no token on it. */
function checkCommand(command: string[] | null, fail: Fail): void {
  if (!command) {
    fail('command', 'command must be a list (no shell parsing of arguments)');
    return;
  }
  const args = command[0] === 'yolo-launch' ? command.slice(1) : command;
  const trainAt = args.indexOf('train');
  if (trainAt < 0) fail('command', 'command must run the train subcommand: yolo-launch [launcher options] train ...');
  const nproc =
    flagValue(args.slice(0, trainAt < 0 ? args.length : trainAt), '--nproc') ?? flagValue(args, '--nproc-per-node');
  if (nproc === undefined || !(nproc === 'gpu' || nproc === 'auto' || /^\d+$/.test(nproc))) {
    fail('command', 'pass --nproc gpu (one worker per GPU) before train');
  }
  if (args.some((a) => /^--(token|secret)/i.test(a)))
    fail('secret', 'no token on the command line: it shows in process listings');
}

/** Secret-named variables are interpolated or *_FILE paths, never literals. */
function checkSecretVariables(service: ComposeMap, fail: Fail): void {
  for (const [k, v] of environmentOf(service)) {
    if (SECRET_NAME.test(k) && v !== null && !isInterpolated(v)) {
      fail(
        'secret',
        `environment ${k} holds a literal secret: use a Compose secret (YOLO_LAUNCH_TOKEN_FILE) or an env file`,
      );
    }
  }
}

/** Strings anywhere in the file that look like key material (reported by their place, not the service). */
function keyMaterial(doc: ComposeMap, file: string): Problem[] {
  const problems: Problem[] = [];
  for (const [where, s] of strings(doc)) {
    if (SECRET_LITERAL.test(s))
      problems.push({ file, rule: 'secret', message: `${where} looks like key material written into the file` });
  }
  return problems;
}

/** One container per node: host networking, the job's shape from deploy/.env, the token from a Compose secret. */
function checkMultinode(service: ComposeMap, doc: ComposeMap, fail: Fail): void {
  if (service['network_mode'] !== 'host')
    fail('network', 'network_mode: host, so that workers on other nodes reach this one');
  const command = commandOf(service);
  for (const flag of ['--nnodes', '--node-rank', '--master-addr', '--master-port', '--run-id']) {
    if (!isInterpolated(command ? flagValue(command, flag) : undefined)) {
      fail('multinode', `${flag} must come from deploy/.env (\${...}), identical on every node except --node-rank`);
    }
  }
  const env = environmentOf(service);
  if (!isInterpolated(env.get('YOLO_SOCKET_IFNAME') ?? undefined))
    fail('multinode', 'YOLO_SOCKET_IFNAME must come from deploy/.env');
  const tokenFile = env.get('YOLO_LAUNCH_TOKEN_FILE');
  const own = Array.isArray(service['secrets'])
    ? service['secrets'].map((s) => (isMap(s) ? String(s['source']) : String(s)))
    : [];
  const top = isMap(doc['secrets']) ? doc['secrets'] : {};
  const secretName = tokenFile?.startsWith('/run/secrets/') ? tokenFile.slice('/run/secrets/'.length) : undefined;
  if (!secretName || !own.includes(secretName)) {
    fail(
      'secret',
      'the token must come from a Compose secret: secrets: [name] and YOLO_LAUNCH_TOKEN_FILE=/run/secrets/<name>',
    );
  } else {
    const def = top[secretName];
    if (!isMap(def) || (typeof def['file'] !== 'string' && def['external'] !== true)) {
      fail('secret', `top-level secrets.${secretName} must name a file (or be external)`);
    }
  }
}

/** Every problem of one training service, in the order the file is read: build, resources, stop, mounts, command, secrets. */
export function checkTrainingService(
  name: string,
  service: ComposeMap,
  doc: ComposeMap,
  rules: ServiceRules,
): Problem[] {
  const problems: Problem[] = [];
  const fail: Fail = (rule, message) => {
    problems.push({ file: rules.file, rule, message: `services.${name}: ${message}` });
  };
  checkBuild(service, rules, fail);
  checkResources(service, fail);
  checkStopSequence(service, fail);
  const targets = mountTargets(service);
  for (const v of rules.imageVolumes) {
    if (!targets.includes(v))
      fail('volumes', `mount ${v} (a VOLUME of the image): otherwise its data lives in an anonymous volume`);
  }
  const env = new Map([...(rules.imageEnv ?? new Map<string, string | null>()), ...environmentOf(service)]);
  problems.push(
    ...checkGpuRuntime({
      file: rules.file,
      where: `services.${name}`,
      env,
      persistentMounts: mountTargets(service, false),
    }),
  );
  checkCommand(commandOf(service), fail);
  checkSecretVariables(service, fail);
  problems.push(...keyMaterial(doc, rules.file));
  if (rules.multinode) checkMultinode(service, doc, fail);
  return problems;
}

export function checkComposeFile(doc: ComposeMap, rules: ServiceRules): Problem[] {
  const services = doc['services'];
  if (!isMap(services) || Object.keys(services).length === 0) {
    return [{ file: rules.file, rule: 'services', message: 'no services' }];
  }
  return Object.entries(services).flatMap(([name, s]) =>
    isMap(s)
      ? checkTrainingService(name, s, doc, rules)
      : [{ file: rules.file, rule: 'services', message: `services.${name} is not a mapping` }],
  );
}
