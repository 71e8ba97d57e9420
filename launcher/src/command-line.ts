/**
 * The command line of yolo-launch: flags (torchrun's names in kebab and snake case, DeepSpeed's
 * for hostfiles), YOLO_LAUNCH_<NAME> defaults, what to run, and main() for the bin.
 *
 * yolo-launch [launcher options] train [train options]
 * yolo-launch [launcher options] val|detect [options]   (val.py, detect.py: one worker per rank)
 * yolo-launch export [export options]      (export.py: one process, no workers)
 * yolo-launch [launcher options] -- <command> [args...]
 * yolo-launch doctor [--json] [--backend X] [--device cpu|gpu] [--no-bench]
 *
 * Usage errors print one line and exit 2.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { USAGE_EXIT_CODE, UsageError } from './errors.js';
import { launch, type LaunchOptions } from './launch.js';
import type { NodeLaunchConfig } from './multinode.js';
import { optionVariable, type OptionName } from './option-names.js';
import { probe } from './probe.js';
import { rejectUnknownFlags } from './unknown-flags.js';
import { DOCTOR_USAGE, parseDoctorArgs, runDoctor, type DoctorOptions } from './doctor/index.js';

type OptionType = 'string' | 'number' | 'boolean';
interface OptionSpec {
  type: OptionType;
  describe: string;
  alias?: string[];
  hidden?: boolean;
}

/** Launcher options; keys are the kebab-case names. */
export const OPTIONS: Record<OptionName, OptionSpec> = {
  nproc: {
    type: 'string',
    alias: ['nproc-per-node'],
    describe:
      'workers per node: a number, "gpu" (one per GPU) or "auto" (GPUs, else one per CPU core) [default: 1; with --hostfile: the slots]',
  },
  nnodes: { type: 'number', describe: 'number of nodes [default: 1]' },
  'node-rank': { type: 'number', describe: 'rank of this node, 0 .. nnodes-1 [default: 0]' },
  'master-addr': {
    type: 'string',
    describe:
      'address of node 0, where rank 0 runs the rendezvous [default: 127.0.0.1; with --hostfile: the first host]',
  },
  'master-port': { type: 'number', describe: 'port of the rendezvous on the master [default: 29500]' },
  standalone: { type: 'boolean', describe: 'single node, rendezvous on a free port chosen by the OS' },
  hostfile: {
    type: 'string',
    alias: ['H'],
    describe: 'DeepSpeed hostfile ("hostname slots=N" per line): one node launcher per host over --ssh',
  },
  include: { type: 'string', alias: ['i'], describe: 'hosts/slots to use, DeepSpeed syntax: host[:slot,slot]@host' },
  exclude: {
    type: 'string',
    alias: ['e'],
    describe: 'hosts/slots to leave out, DeepSpeed syntax: host[:slot,slot]@host',
  },
  ssh: { type: 'string', describe: 'command that runs a command on a host [default: ssh]' },
  'max-restarts': { type: 'number', describe: 'restart every worker up to N times after a failure [default: 0]' },
  'monitor-interval': {
    type: 'number',
    describe: "seconds between liveness checks of the launcher by its workers' keepers [default: 0.5]",
  },
  'log-dir': { type: 'string', describe: 'write one complete log file per rank here (rank<N>.log)' },
  tee: {
    type: 'number',
    describe: 'worker streams shown on the console: 0 none, 1 stdout, 2 stderr, 3 both [default: 3]',
  },
  'local-ranks-filter': {
    type: 'string',
    describe: 'only these ranks on the console, e.g. 0 or 0,1 (log files stay complete)',
  },
  'run-id': { type: 'string', describe: 'job id, passed to workers as YOLO_LAUNCH_RUN_ID [default: random]' },
  'term-timeout': {
    type: 'number',
    describe: 'seconds between SIGTERM and SIGKILL when stopping workers [default: 10]',
  },
  threads: { type: 'number', describe: 'CPU threads per worker [default: cores / workers on the node]' },
  scheduler: {
    type: 'string',
    describe:
      'take ranks from Slurm / Open MPI / a Kubernetes Indexed Job when their variables are set ("auto"), or never ("none") [default: auto]',
  },
  preflight: {
    type: 'boolean',
    describe: 'multi-node: check that every node reaches the master port first [default: true]',
  },
  // Used by the multi-node controller when it starts node launchers; not for people.
  'stdin-config': {
    type: 'boolean',
    hidden: true,
    describe: 'read the job secret and environment from the first stdin line; stop when stdin closes',
  },
  'rank-offset': { type: 'number', hidden: true, describe: 'global rank of local rank 0' },
  'world-size': { type: 'number', hidden: true, describe: 'total number of workers' },
};

const snake = (name: string) => name.replace(/-/g, '_');
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const envName = optionVariable;

function envValue(name: string, type: OptionType, raw: string): string | number | boolean {
  if (type === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${envName(name)}=${raw} is not a number`);
    return n;
  }
  if (type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off|)$/i.test(raw)) return false;
    throw new UsageError(`${envName(name)}=${raw} is not a boolean (use 1 or 0)`);
  }
  return raw;
}

export interface ParsedCommandLine {
  options: LaunchOptions;
  stdinConfig: boolean;
  probe?: { addr: string; port: number };
  /** `export [options]`: run @yolo-launch/export's command line in this process. */
  exportArgs?: string[];
  doctor?: DoctorOptions;
}

/** What yargs hands back: the options by camel-case name, then the rest of the command line. */
type ParsedArgs = Record<string, unknown> & { _: (string | number)[]; '--'?: (string | number)[] };

/** yargs for the launcher's own flags: it stops at the first non-option, which starts what to run. */
function launcherParser(argv: readonly string[]) {
  let parser = yargs([...argv])
    .scriptName('yolo-launch')
    .usage(
      `$0 [launcher options] train [train options]\n$0 [launcher options] val|detect [options]\n$0 export [export options]\n$0 [launcher options] -- <command> [args...]\n${DOCTOR_USAGE}\n\nEvery option can also be set with YOLO_LAUNCH_<NAME>, e.g. YOLO_LAUNCH_NPROC=4.`,
    )
    .parserConfiguration({ 'halt-at-non-option': true, 'populate--': true, 'camel-case-expansion': true })
    .strictOptions()
    .version(false)
    .help('help')
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
  for (const [name, spec] of Object.entries(OPTIONS)) {
    const aliases = [...(spec.alias ?? [])];
    for (const n of [name, ...(spec.alias ?? [])]) if (n.includes('-')) aliases.push(snake(n));
    parser = parser.option(name, { type: spec.type, describe: spec.describe, alias: aliases, hidden: spec.hidden });
  }
  return parser.showHelpOnFail(false);
}

/** The launch options from the flags, each falling back to its YOLO_LAUNCH_<NAME> variable. */
function launchOptionsOf(parsed: ParsedArgs, env: NodeJS.ProcessEnv): LaunchOptions {
  const value = (name: OptionName): unknown => {
    const v = parsed[camel(name)];
    if (v !== undefined) return v;
    const raw = env[envName(name)];
    return raw === undefined ? undefined : envValue(name, OPTIONS[name].type, raw);
  };
  for (const [name, spec] of Object.entries(OPTIONS)) {
    const v = parsed[camel(name)];
    if (spec.type === 'number' && typeof v === 'number' && Number.isNaN(v))
      throw new UsageError(`--${name} needs a number`);
  }
  return {
    nproc: value('nproc') as string | undefined,
    nnodes: value('nnodes') as number | undefined,
    nodeRank: value('node-rank') as number | undefined,
    masterAddr: value('master-addr') as string | undefined,
    masterPort: value('master-port') as number | undefined,
    standalone: value('standalone') as boolean | undefined,
    hostfile: value('hostfile') as string | undefined,
    include: value('include') as string | undefined,
    exclude: value('exclude') as string | undefined,
    ssh: value('ssh') as string | undefined,
    maxRestarts: value('max-restarts') as number | undefined,
    monitorInterval: value('monitor-interval') as number | undefined,
    logDir: value('log-dir') as string | undefined,
    tee: value('tee') as number | undefined,
    localRanksFilter: value('local-ranks-filter') as string | undefined,
    runId: value('run-id') as string | undefined,
    termTimeout: value('term-timeout') as number | undefined,
    threads: value('threads') as number | undefined,
    preflight: value('preflight') as boolean | undefined,
    scheduler: value('scheduler') as string | undefined,
    rankOffset: parsed.rankOffset as number | undefined,
    worldSize: parsed.worldSize as number | undefined,
    env,
    handleSignals: true,
  };
}

/**
 * What to run, from the rest of the command line: a subcommand (doctor, export, train, val,
 * detect, the hidden __probe), `-- <command>`, or a script.js. Sets command / trainArgs on
 * `options` for the per-rank ones.
 */
function commandOf(
  rest: readonly string[],
  explicitDashes: boolean,
  options: LaunchOptions,
  env: NodeJS.ProcessEnv,
  stdinConfig: boolean,
): ParsedCommandLine {
  const first = explicitDashes ? undefined : rest[0];
  if (first === 'doctor') return { options, stdinConfig: false, doctor: parseDoctorArgs(rest.slice(1), env) };
  if (first === '__probe') {
    const [, addr, port] = rest;
    if (!addr || !port) throw new UsageError('__probe <addr> <port>');
    return { options, stdinConfig: false, probe: { addr, port: Number(port) } };
  }
  if (explicitDashes) {
    if (rest.length === 0) throw new UsageError('-- needs a command to run');
    options.command = [...rest];
  } else if (first === 'export') {
    return { options, stdinConfig: false, exportArgs: rest.slice(1) };
  } else if (first === 'train' || first === 'val' || first === 'detect') {
    options.trainArgs = rest.slice(1);
    options.workerCommand = first;
  } else if (first !== undefined && /\.(m|c)?js$/.test(first)) {
    // torchrun-style "yolo-launch script.js args": a JavaScript file runs under this node.
    options.command = [process.execPath, ...rest];
  } else if (first !== undefined) {
    throw new UsageError(
      `unknown command "${first}": use \`train\`, \`val\`, \`detect\` or \`export\` [options], \`doctor\`, or \`-- <command> [args...]\``,
    );
  } else {
    throw new UsageError('nothing to run: use `train [train options]` or `-- <command> [args...]` (see --help)');
  }
  return { options, stdinConfig };
}

/** Parses the launcher's argv (without node and script). Throws UsageError on bad input. */
export async function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ParsedCommandLine | null> {
  rejectUnknownFlags(argv, OPTIONS);
  const parsed = (await launcherParser(argv).parseAsync()) as ParsedArgs;
  // Only a --help among the launcher's own options is ours (yargs printed it); `train --help` is the trainer's.
  if (parsed.help) return null;
  const options = launchOptionsOf(parsed, env);
  // yargs stops at the first non-option (halt-at-non-option) and hands back the rest, but
  // coerces numbers in it; the rest is a suffix of argv, so take the raw strings from there.
  const restLength = (parsed['--'] ?? []).length + parsed._.length;
  const rest = argv.slice(argv.length - restLength);
  const explicitDashes = argv[argv.length - restLength - 1] === '--';
  return commandOf(rest, explicitDashes, options, env, Boolean(parsed.stdinConfig));
}

/** Node launchers of a multi-node job read their secret and environment from stdin. */
function readStdinConfig(): Promise<{ config: NodeLaunchConfig; closed: AbortSignal }> {
  return new Promise((resolve, reject) => {
    const closed = new AbortController();
    let buffer = '';
    let done = false;
    process.stdin.on('data', (chunk: Buffer) => {
      if (done) return;
      buffer += chunk.toString('utf8');
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      done = true;
      try {
        resolve({ config: JSON.parse(buffer.slice(0, nl)) as NodeLaunchConfig, closed: closed.signal });
      } catch {
        reject(new UsageError('--stdin-config: the first stdin line is not valid JSON'));
      }
    });
    const end = () => {
      if (!done) reject(new UsageError('--stdin-config: stdin closed before the configuration line'));
      closed.abort();
    };
    process.stdin.on('end', end);
    process.stdin.on('close', end);
    process.stdin.on('error', end);
  });
}

export async function main(argv: readonly string[] = hideBin(process.argv)): Promise<number> {
  // `yolo-launch ... | head`: when the console's reader goes away, behave as SIGPIPE would for
  // a plain pipeline and stop the job (instead of spinning on EPIPE errors).
  const consoleGone = new AbortController();
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') consoleGone.abort();
    });
  }
  try {
    const parsed = await parseCommandLine(argv);
    if (parsed === null) return 0;
    if (parsed.doctor) return (await runDoctor(parsed.doctor)).exitCode;
    if (parsed.probe) {
      process.stdout.write(`${JSON.stringify(await probe(parsed.probe.addr, parsed.probe.port))}\n`);
      return 0;
    }
    if (parsed.exportArgs) return await (await import('@yolo-launch/export/cli')).runExportCli(parsed.exportArgs);
    const options = parsed.options;
    // val/detect: bad flags, weights, data or sources exit 2 here, before any rank starts
    if ((options.workerCommand === 'val' || options.workerCommand === 'detect') && !parsed.stdinConfig) {
      const code = await (await import('@yolo-launch/infer')).precheck(options.workerCommand, options.trainArgs ?? []);
      if (code !== null) return code;
    }
    if (parsed.stdinConfig) {
      const { config, closed } = await readStdinConfig();
      options.env = { ...options.env, ...config.env };
      options.token = config.token;
      options.runId = config.runId;
      options.restartCount = config.restartCount;
      options.signal = AbortSignal.any([closed, consoleGone.signal]);
    } else {
      options.signal = consoleGone.signal;
    }
    const result = await launch(options);
    return result.exitCode;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`yolo-launch: error: ${err.message}\n`);
      return USAGE_EXIT_CODE;
    }
    if (err instanceof Error && err.name === 'YError') {
      process.stderr.write(`yolo-launch: error: ${err.message}\n`);
      return USAGE_EXIT_CODE;
    }
    throw err;
  }
}
