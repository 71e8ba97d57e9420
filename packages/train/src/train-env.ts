// The environment switches of `train`, in one table: each variable's name, default, meaning
// and parser. run.ts reads them once at start (`readTrainEnv`), before any work, and passes
// the parsed `TrainEnv` down (PreparedRun.env, TrainContext.env); no other file of
// packages/train/src reads process.env (test/train-env.test.ts checks both, and that
// packages/train/README.md's "Environment" table is this one).
//
// Not here: the worker contract the launcher sets (RANK, WORLD_SIZE, LOCAL_RANK, ..., read by
// dist.ts) and YOLO_LAUNCH_DATASETS (read by @yolo-launch/data).
//
// CUDA_VISIBLE_DEVICES is here, not in core's WORKER_VARIABLES, on purpose: it is CUDA's own
// variable, not part of the placement that table describes. The launcher writes every
// WORKER_VARIABLES entry for every worker (launcher/src/contract.ts types that), but leaves
// CUDA_VISIBLE_DEVICES as the user set it for a CPU run ('' or -1); a single process gets it
// from `--device 0,1` or `--device cpu` (backend's device_request.ts), with no launcher at all;
// and the launcher itself reads it as input (the list it splits among the ranks).

import { UsageError } from './options.js';
import { DEFAULT_FRACTION } from './autobatch/fit.js';

/** YOLO_AUTOBATCH_MEMORY: a cap on what a rank may use, as given and in bytes. */
export interface MemoryCap {
  text: string;
  bytes: number;
}

/** Every switch, parsed. */
export interface TrainEnv {
  /** '1' forces layer recompute, '0' the whole tape; undefined: recompute.ts decides. */
  recompute: '0' | '1' | undefined;
  /** The all-reduce overlapped with the recomputing backward. */
  overlap: boolean;
  /** The console as pino JSON lines instead of YOLOv5's text. */
  logJson: boolean;
  /** A failed run prints the stack. */
  debug: boolean;
  weightsUrl: string;
  downloadTimeoutMs: number;
  autobatchFraction: number;
  autobatchMemory: MemoryCap | null;
  /** The GPU AutoBatch measures with nvidia-smi: the first of CUDA_VISIBLE_DEVICES. */
  visibleGpu: string;
  /** Test hook: exit (75) after this epoch as if killed. */
  exitAfterEpoch: number | null;
}

/** Where `--weights yolov5s.pt` and the other release names are downloaded from, and for how long. */
export type WeightsDownload = Pick<TrainEnv, 'weightsUrl' | 'downloadTimeoutMs'>;

/** One row of the table. `parse` gets the raw value, never undefined or '' (those mean the default). */
export interface EnvSwitch<T> {
  name: string;
  /** The default as the README shows it. */
  shown: string;
  meaning: string;
  fallback: T;
  parse(raw: string): T;
}

type EnvTable = { readonly [K in keyof TrainEnv]: EnvSwitch<TrainEnv[K]> };

/** `environment variable NAME="raw" <problem>`: names the variable and says what to set. */
const refuse = (name: string, raw: string, problem: string): UsageError =>
  new UsageError(`environment variable ${name}=${JSON.stringify(raw)} ${problem}`);

function onOff(name: string, fallback: boolean, meaning: string): EnvSwitch<boolean> {
  return {
    name,
    shown: fallback ? '1' : '0',
    meaning,
    fallback,
    parse: (raw) => {
      if (/^(1|true)$/i.test(raw)) return true;
      if (/^(0|false)$/i.test(raw)) return false;
      throw refuse(name, raw, 'must be 1 (on) or 0 (off)');
    },
  };
}

const BYTE_UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `2G`, `512M`, `1.5G`, `1073741824` → bytes. */
export function parseByteSize(text: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text);
  if (!m || Number(m[1]) <= 0) throw refuse(name, text, 'is not a size; use e.g. 2G or 512M');
  return Number(m[1]) * BYTE_UNITS[m[2]!.toUpperCase()]!;
}

function wholeNumber(name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || value < min) throw refuse(name, raw, `must be a whole number ≥ ${min}`);
  return value;
}

export const TRAIN_ENV: EnvTable = {
  recompute: {
    name: 'YOLO_TRAIN_RECOMPUTE',
    shown: '(decide)',
    meaning:
      "`1` recomputes each layer's forward in the backward, `0` keeps the whole tape; unset: the tape on every backend but wasm, where it is kept when its estimated peak fits 2 GiB (`src/recompute.ts`)",
    fallback: undefined,
    parse: (raw) => {
      if (raw === '0' || raw === '1') return raw;
      throw refuse('YOLO_TRAIN_RECOMPUTE', raw, 'must be 1 (recompute), 0 (keep the tape) or unset');
    },
  },
  overlap: onOff(
    'YOLO_TRAIN_OVERLAP',
    true,
    '`0` turns off the all-reduce of each gradient bucket during the recomputing backward (for measuring what the overlap hides)',
  ),
  logJson: onOff(
    'YOLO_LOG_JSON',
    false,
    "`1`: the console prints pino JSON lines instead of YOLOv5's text (for log collectors)",
  ),
  debug: onOff('YOLO_DEBUG', false, '`1`: a run that fails prints the stack after the message'),
  weightsUrl: {
    name: 'YOLO_LAUNCH_WEIGHTS_URL',
    shown: 'https://github.com/ultralytics/yolov5/releases/download/v7.0/',
    meaning: 'where `--weights yolov5{n,s,m,l,x}{,6}.pt` missing locally is downloaded from (a mirror)',
    fallback: 'https://github.com/ultralytics/yolov5/releases/download/v7.0/',
    parse: (raw) => {
      if (!URL.canParse(raw)) throw refuse('YOLO_LAUNCH_WEIGHTS_URL', raw, 'is not a URL; use e.g. https://host/path/');
      return raw;
    },
  },
  downloadTimeoutMs: {
    name: 'YOLO_LAUNCH_DOWNLOAD_TIMEOUT_MS',
    shown: '600000',
    meaning: "how long that download may take, and how long the node's other ranks wait for it (milliseconds)",
    fallback: 600_000,
    parse: (raw) => wholeNumber('YOLO_LAUNCH_DOWNLOAD_TIMEOUT_MS', raw, 1),
  },
  autobatchFraction: {
    name: 'YOLO_AUTOBATCH_FRACTION',
    shown: String(DEFAULT_FRACTION),
    meaning: '`--batch-size -1`: the fraction of the device memory AutoBatch aims at, in (0, 1]',
    fallback: DEFAULT_FRACTION,
    parse: (raw) => {
      const value = Number(raw);
      if (!(value > 0 && value <= 1))
        throw refuse('YOLO_AUTOBATCH_FRACTION', raw, 'must be a number in (0, 1], e.g. 0.6');
      return value;
    },
  },
  autobatchMemory: {
    name: 'YOLO_AUTOBATCH_MEMORY',
    shown: '(none)',
    meaning: '`--batch-size -1`: a cap such as `2G` or `512M` on the memory a rank may use (a shared machine)',
    fallback: null,
    parse: (raw) => ({ text: raw, bytes: parseByteSize(raw, 'YOLO_AUTOBATCH_MEMORY') }),
  },
  visibleGpu: {
    name: 'CUDA_VISIBLE_DEVICES',
    shown: '0',
    meaning:
      'on tfjs-node-gpu, AutoBatch measures the first GPU listed (the launcher sets one per rank; TensorFlow reads it too)',
    fallback: '0',
    parse: (raw) => raw.split(',')[0]?.trim() || '0',
  },
  exitAfterEpoch: {
    name: 'YOLO_TRAIN_EXIT_AFTER_EPOCH',
    shown: '(none)',
    meaning:
      'test hook of the `train` bin: exit 75 after that epoch, once every rank finished it, as if killed (never set by users)',
    fallback: null,
    parse: (raw) => wholeNumber('YOLO_TRAIN_EXIT_AFTER_EPOCH', raw, 0),
  },
};

/** One switch from `env` (unset or empty: its default). Throws a UsageError naming the variable. */
export function readEnvSwitch<K extends keyof TrainEnv>(key: K, env: NodeJS.ProcessEnv): TrainEnv[K] {
  const entry = TRAIN_ENV[key];
  const raw = env[entry.name];
  return raw === undefined || raw === '' ? entry.fallback : entry.parse(raw);
}

/** Every switch from `env`; a bad value is a UsageError naming the variable. */
export function readTrainEnv(env: NodeJS.ProcessEnv): TrainEnv {
  const read = <K extends keyof TrainEnv>(key: K): TrainEnv[K] => readEnvSwitch(key, env);
  return {
    recompute: read('recompute'),
    overlap: read('overlap'),
    logJson: read('logJson'),
    debug: read('debug'),
    weightsUrl: read('weightsUrl'),
    downloadTimeoutMs: read('downloadTimeoutMs'),
    autobatchFraction: read('autobatchFraction'),
    autobatchMemory: read('autobatchMemory'),
    visibleGpu: read('visibleGpu'),
    exitAfterEpoch: read('exitAfterEpoch'),
  };
}

/** This process's switches: the one place packages/train/src reads process.env (dist.ts aside). */
export function processTrainEnv(): TrainEnv {
  return readTrainEnv(process.env);
}

/**
 * The switches once `--device` has been applied: in a single process, backend's device request
 * sets CUDA_VISIBLE_DEVICES (`--device 1` → `1`) after the switches were first read, and
 * AutoBatch must measure the GPU TensorFlow will use, not GPU 0. `processEnv`: where the
 * request wrote (process.env in a run; tests pass their own).
 */
export function afterDeviceRequest(env: TrainEnv, processEnv: NodeJS.ProcessEnv = process.env): TrainEnv {
  return { ...env, visibleGpu: readEnvSwitch('visibleGpu', processEnv) };
}

/** The switch table as packages/train/README.md shows it (the test compares the two). */
export function trainEnvMarkdown(): string {
  const shown = (s: EnvSwitch<unknown>): string => (s.shown.startsWith('(') ? s.shown : `\`${s.shown}\``);
  const rows = Object.values(TRAIN_ENV).map((s) => `| \`${s.name}\` | ${shown(s)} | ${s.meaning} |`);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
