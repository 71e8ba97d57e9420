// The `train` command line: every option of YOLOv5's train.py parse_opt, with the same
// names, aliases, defaults and argparse behaviour (store_true flags, `nargs='?'` options that
// take an optional value, `nargs='+'` lists, `--opt=value`, unique-prefix abbreviations),
// plus --backend. A small declarative parser instead of yargs: argparse's optional-value
// options (`--resume`, `--evolve`, `--cache`) have no yargs equivalent.

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type CacheMode = 'ram' | 'disk';

export interface TrainOptions {
  weights: string;
  cfg: string;
  data: string;
  hyp: string;
  epochs: number;
  batch_size: number;
  imgsz: number;
  rect: boolean;
  /** false, true (latest run) or a checkpoint path. */
  resume: boolean | string;
  nosave: boolean;
  noval: boolean;
  noautoanchor: boolean;
  noplots: boolean;
  /** yolo-launch: no TensorBoard event file (YOLOv5 always writes one, except with --evolve). */
  notensorboard: boolean;
  /** undefined, or the number of generations. */
  evolve: number | undefined;
  evolve_population: string;
  resume_evolve: string | undefined;
  bucket: string;
  cache: CacheMode | undefined;
  image_weights: boolean;
  device: string;
  multi_scale: boolean;
  single_cls: boolean;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  sync_bn: boolean;
  workers: number;
  project: string;
  name: string;
  exist_ok: boolean;
  quad: boolean;
  cos_lr: boolean;
  label_smoothing: number;
  patience: number;
  freeze: number[];
  save_period: number;
  /** YOLOv6: keep weights/epoch{n}.pt for the last N epochs (< 1: off). */
  save_ckpt_on_last_n_epoch: number;
  /** YOLOv6 --stop-aug-last-n-epoch, ultralytics --close-mosaic: mosaic and mixup off for the last N epochs (0: never). */
  stop_aug_last_n_epoch: number;
  /** YOLOv6: validate every K epochs (1: every epoch, YOLOv5's behaviour). */
  eval_interval: number;
  /** YOLOv6: in the last R epochs validate every min(3, K) epochs. */
  heavy_eval_range: number;
  /** YOLOv6: validate the final epoch only (what --noval does). */
  eval_final_only: boolean;
  seed: number;
  local_rank: number;
  entity: string | undefined;
  upload_dataset: boolean | string;
  bbox_interval: number;
  artifact_alias: string;
  ndjson_console: boolean;
  ndjson_file: boolean;
  /** yolo-launch: the tfjs backend (wasm, cpu, tensorflow, or auto). */
  backend: string;
  /** yolo-launch: validate on rank 0 only (YOLOv5's behaviour) instead of on every rank. */
  val_rank0: boolean;
  /** yolo-launch: 16-bit gradients in the DDP all-reduce (PyTorch's fp16/bf16 compress hooks), or 'none'. */
  grad_compression: 'none' | 'fp16' | 'bf16';
  /** YOLOv6: knowledge distillation from --teacher-model-path (src/distill/). */
  distill: boolean;
  /** YOLOv6: the teacher's .pt (same classes as the dataset). */
  teacher_model_path: string;
  /** YOLOv6: the class term's softmax temperature. */
  temperature: number;
  /** YOLOv6: add the channel-wise feature term on the neck outputs. */
  distill_feat: boolean;
}

type Kind = 'int' | 'float' | 'str' | 'flag' | 'optional-str' | 'optional-int' | 'int-list';

interface Spec {
  flags: string[];
  dest: keyof TrainOptions;
  kind: Kind;
  default: unknown;
  /** Value when an optional-value option is given without a value. */
  const?: unknown;
  choices?: readonly string[];
  help: string;
}

/** `--batch-size -1`: measured per rank at the start of the run (src/autobatch/). */
export const AUTOBATCH = -1;

/** The default dataset: the embedded synthetic set, generated on first use (see @yolo-launch/data). */
export const DEFAULT_DATA = 'synthetic.yaml';

/** YOLOv6's knowledge-distillation options (tools/train.py), checked by checkDistillOptions. */
const DISTILL_OPTION_SPECS: readonly Spec[] = [
  {
    flags: ['--distill'],
    dest: 'distill',
    kind: 'flag',
    default: false,
    help: 'distill from --teacher-model-path (YOLOv6)',
  },
  {
    flags: ['--distill-feat', '--distill_feat'],
    dest: 'distill_feat',
    kind: 'flag',
    default: false,
    help: 'with --distill: add the channel-wise feature term on the neck outputs (YOLOv6)',
  },
  {
    flags: ['--teacher-model-path', '--teacher_model_path'],
    dest: 'teacher_model_path',
    kind: 'str',
    default: '',
    help: 'teacher .pt for --distill, trained on the same classes (YOLOv6)',
  },
  {
    flags: ['--temperature'],
    dest: 'temperature',
    kind: 'float',
    default: 20,
    help: 'distillation temperature of the class term (YOLOv6)',
  },
];

export const OPTION_SPECS: readonly Spec[] = [
  {
    flags: ['--weights'],
    dest: 'weights',
    kind: 'str',
    default: '',
    help: "initial weights path: a YOLOv5 .pt (yolov5{n,s,m,l,x}{,6}.pt are downloaded from the v7.0 release when missing) or one of our checkpoints; '' = from scratch",
  },
  {
    flags: ['--cfg'],
    dest: 'cfg',
    kind: 'str',
    default: '',
    help: "model.yaml path ('' with no --weights: yolov5s.yaml from scratch, the model YOLOv5's default yolov5s.pt holds)",
  },
  {
    flags: ['--data'],
    dest: 'data',
    kind: 'str',
    default: DEFAULT_DATA,
    help: 'dataset.yaml path (default: the embedded synthetic dataset)',
  },
  { flags: ['--hyp'], dest: 'hyp', kind: 'str', default: 'hyp.scratch-low.yaml', help: 'hyperparameters path' },
  { flags: ['--epochs'], dest: 'epochs', kind: 'int', default: 100, help: 'total training epochs' },
  {
    flags: ['--batch-size'],
    dest: 'batch_size',
    kind: 'int',
    default: 16,
    help: 'total batch size for all ranks, -1 for autobatch',
  },
  {
    flags: ['--imgsz', '--img', '--img-size'],
    dest: 'imgsz',
    kind: 'int',
    default: 640,
    help: 'train, val image size (pixels)',
  },
  { flags: ['--rect'], dest: 'rect', kind: 'flag', default: false, help: 'rectangular training' },
  {
    flags: ['--resume'],
    dest: 'resume',
    kind: 'optional-str',
    default: false,
    const: true,
    help: 'resume most recent training (or the given last.pt)',
  },
  { flags: ['--nosave'], dest: 'nosave', kind: 'flag', default: false, help: 'only save final checkpoint' },
  { flags: ['--noval'], dest: 'noval', kind: 'flag', default: false, help: 'only validate final epoch' },
  { flags: ['--noautoanchor'], dest: 'noautoanchor', kind: 'flag', default: false, help: 'disable AutoAnchor' },
  { flags: ['--noplots'], dest: 'noplots', kind: 'flag', default: false, help: 'save no plot files' },
  {
    flags: ['--notensorboard'],
    dest: 'notensorboard',
    kind: 'flag',
    default: false,
    help: 'write no TensorBoard event file (yolo-launch)',
  },
  {
    flags: ['--evolve'],
    dest: 'evolve',
    kind: 'optional-int',
    default: undefined,
    const: 300,
    help: 'evolve hyperparameters for x generations',
  },
  {
    flags: ['--evolve_population', '--evolve-population'],
    dest: 'evolve_population',
    kind: 'str',
    default: 'data/hyps',
    help: 'location for loading population',
  },
  {
    flags: ['--resume_evolve', '--resume-evolve'],
    dest: 'resume_evolve',
    kind: 'str',
    default: undefined,
    help: 'resume evolve from last generation',
  },
  { flags: ['--bucket'], dest: 'bucket', kind: 'str', default: '', help: 'gsutil bucket (not supported)' },
  {
    flags: ['--cache'],
    dest: 'cache',
    kind: 'optional-str',
    default: undefined,
    const: 'ram',
    choices: ['ram', 'disk'],
    help: 'image --cache ram/disk',
  },
  {
    flags: ['--image-weights'],
    dest: 'image_weights',
    kind: 'flag',
    default: false,
    help: 'use weighted image selection for training',
  },
  { flags: ['--device'], dest: 'device', kind: 'str', default: '', help: 'cuda device, i.e. 0 or 0,1,2,3 or cpu' },
  { flags: ['--multi-scale'], dest: 'multi_scale', kind: 'flag', default: false, help: 'vary img-size +/- 50%%' },
  {
    flags: ['--single-cls'],
    dest: 'single_cls',
    kind: 'flag',
    default: false,
    help: 'train multi-class data as single-class',
  },
  {
    flags: ['--optimizer'],
    dest: 'optimizer',
    kind: 'str',
    default: 'SGD',
    choices: ['SGD', 'Adam', 'AdamW'],
    help: 'optimizer',
  },
  {
    flags: ['--sync-bn'],
    dest: 'sync_bn',
    kind: 'flag',
    default: false,
    help: 'use SyncBatchNorm, only available in DDP mode',
  },
  {
    flags: ['--workers'],
    dest: 'workers',
    kind: 'int',
    default: 8,
    help: 'max dataloader workers (per RANK in DDP mode)',
  },
  { flags: ['--project'], dest: 'project', kind: 'str', default: 'runs/train', help: 'save to project/name' },
  { flags: ['--name'], dest: 'name', kind: 'str', default: 'exp', help: 'save to project/name' },
  {
    flags: ['--exist-ok'],
    dest: 'exist_ok',
    kind: 'flag',
    default: false,
    help: 'existing project/name ok, do not increment',
  },
  { flags: ['--quad'], dest: 'quad', kind: 'flag', default: false, help: 'quad dataloader' },
  { flags: ['--cos-lr'], dest: 'cos_lr', kind: 'flag', default: false, help: 'cosine LR scheduler' },
  {
    flags: ['--label-smoothing'],
    dest: 'label_smoothing',
    kind: 'float',
    default: 0.0,
    help: 'Label smoothing epsilon',
  },
  {
    flags: ['--patience'],
    dest: 'patience',
    kind: 'int',
    default: 100,
    help: 'EarlyStopping patience (epochs without improvement)',
  },
  {
    flags: ['--freeze'],
    dest: 'freeze',
    kind: 'int-list',
    default: [0],
    help: 'Freeze layers: backbone=10, first3=0 1 2',
  },
  {
    flags: ['--save-period'],
    dest: 'save_period',
    kind: 'int',
    default: -1,
    help: 'Save checkpoint every x epochs (disabled if < 1)',
  },
  {
    flags: ['--save-ckpt-on-last-n-epoch'],
    dest: 'save_ckpt_on_last_n_epoch',
    kind: 'int',
    default: -1,
    help: 'keep weights/epoch{n}.pt for the last n epochs (YOLOv6; < 1 keeps none)',
  },
  {
    flags: ['--stop-aug-last-n-epoch', '--close-mosaic'],
    dest: 'stop_aug_last_n_epoch',
    kind: 'int',
    default: 0,
    help: 'mosaic and mixup off for the last n epochs (YOLOv6 --stop-aug-last-n-epoch, ultralytics close_mosaic; 0 = never)',
  },
  {
    flags: ['--eval-interval'],
    dest: 'eval_interval',
    kind: 'int',
    default: 1,
    help: 'validate every k epochs (YOLOv6; 1 = every epoch, as YOLOv5)',
  },
  {
    flags: ['--heavy-eval-range'],
    dest: 'heavy_eval_range',
    kind: 'int',
    default: 50,
    help: 'in the last r epochs validate every min(3, --eval-interval) epochs (YOLOv6)',
  },
  {
    flags: ['--eval-final-only'],
    dest: 'eval_final_only',
    kind: 'flag',
    default: false,
    help: 'validate the final epoch only, as --noval (YOLOv6)',
  },
  { flags: ['--seed'], dest: 'seed', kind: 'int', default: 0, help: 'Global training seed' },
  {
    flags: ['--local_rank', '--local-rank'],
    dest: 'local_rank',
    kind: 'int',
    default: -1,
    help: 'Automatic DDP Multi-GPU argument, do not modify',
  },
  { flags: ['--entity'], dest: 'entity', kind: 'str', default: undefined, help: 'Entity (W&B logging; not supported)' },
  {
    flags: ['--upload_dataset', '--upload-dataset'],
    dest: 'upload_dataset',
    kind: 'optional-str',
    default: false,
    const: true,
    help: 'Upload data, "val" option (W&B; not supported)',
  },
  {
    flags: ['--bbox_interval', '--bbox-interval'],
    dest: 'bbox_interval',
    kind: 'int',
    default: -1,
    help: 'Set bounding-box image logging interval (W&B; not supported)',
  },
  {
    flags: ['--artifact_alias', '--artifact-alias'],
    dest: 'artifact_alias',
    kind: 'str',
    default: 'latest',
    help: 'Version of dataset artifact to use (W&B; not supported)',
  },
  { flags: ['--ndjson-console'], dest: 'ndjson_console', kind: 'flag', default: false, help: 'Log ndjson to console' },
  { flags: ['--ndjson-file'], dest: 'ndjson_file', kind: 'flag', default: false, help: 'Log ndjson to file' },
  {
    flags: ['--backend'],
    dest: 'backend',
    kind: 'str',
    default: 'auto',
    choices: ['auto', 'tensorflow', 'wasm', 'cpu'],
    help: 'tfjs backend (yolo-launch; auto = tfjs-node-gpu/tfjs-node when installed, else wasm)',
  },
  {
    flags: ['--val-rank0'],
    dest: 'val_rank0',
    kind: 'flag',
    default: false,
    help: 'validate on rank 0 only while the other ranks wait, as YOLOv5 (yolo-launch; default: every rank validates its share of the batches, same numbers)',
  },
  {
    flags: ['--grad-compression'],
    dest: 'grad_compression',
    kind: 'str',
    default: 'none',
    choices: ['none', 'fp16', 'bf16'],
    help: 'DDP gradients travel as fp16/bf16: half the bytes, summed in fp32 (yolo-launch; PyTorch fp16_compress_hook)',
  },
  ...DISTILL_OPTION_SPECS,
];

export function defaultOptions(): TrainOptions {
  const o: Record<string, unknown> = {};
  for (const s of OPTION_SPECS) o[s.dest] = Array.isArray(s.default) ? [...(s.default as unknown[])] : s.default;
  return o as unknown as TrainOptions;
}

function findSpec(flag: string): Spec {
  const exact = OPTION_SPECS.find((s) => s.flags.includes(flag) || s.flags.includes(flag.replace(/_/g, '-')));
  if (exact) return exact;
  // argparse allow_abbrev: a unique prefix of a long option.
  const matches = OPTION_SPECS.filter((s) => s.flags.some((f) => f.startsWith(flag)));
  const dests = [...new Set(matches.map((m) => m.dest))];
  if (dests.length === 1) return matches[0]!;
  if (dests.length > 1) {
    throw new UsageError(`ambiguous option: ${flag} could match ${matches.map((m) => m.flags[0]).join(', ')}`);
  }
  throw new UsageError(`unrecognized argument: ${flag} (see train --help)`);
}

function isOptionToken(tok: string | undefined): boolean {
  return (tok !== undefined && tok.startsWith('--') && tok.length > 2) || (tok !== undefined && /^-[a-zA-Z]/.test(tok));
}

function toInt(flag: string, v: string): number {
  if (!/^[+-]?\d+$/.test(v.trim())) throw new UsageError(`argument ${flag}: invalid int value: '${v}'`);
  return Number.parseInt(v, 10);
}

function toFloat(flag: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || Number.isNaN(x)) throw new UsageError(`argument ${flag}: invalid float value: '${v}'`);
  return x;
}

/** Parse argv (without node and script) into options, argparse-style. */
export function parseTrainArgs(argv: readonly string[]): {
  options: TrainOptions;
  given: Set<keyof TrainOptions>;
  help: boolean;
} {
  const options = defaultOptions() as unknown as Record<string, unknown>;
  const given = new Set<keyof TrainOptions>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '-h' || tok === '--help') {
      help = true;
      continue;
    }
    if (!tok.startsWith('--'))
      throw new UsageError(`unrecognized argument: ${tok} (train takes only --options; see train --help)`);
    const eq = tok.indexOf('=');
    const flag = eq >= 0 ? tok.slice(0, eq) : tok;
    const inline = eq >= 0 ? tok.slice(eq + 1) : undefined;
    const spec = findSpec(flag);
    given.add(spec.dest);
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (isOptionToken(next) && !/^-\d/.test(next)))
        throw new UsageError(`argument ${spec.flags.join('/')}: expected one argument`);
      i++;
      return next;
    };
    let value: unknown;
    switch (spec.kind) {
      case 'flag':
        if (inline !== undefined) throw new UsageError(`argument ${flag}: ignored explicit argument '${inline}'`);
        value = true;
        break;
      case 'int':
        value = toInt(flag, takeValue());
        break;
      case 'float':
        value = toFloat(flag, takeValue());
        break;
      case 'str':
        value = takeValue();
        break;
      case 'optional-str':
      case 'optional-int': {
        let raw: string | undefined = inline;
        if (raw === undefined) {
          const next = argv[i + 1];
          if (next !== undefined && !isOptionToken(next)) {
            raw = next;
            i++;
          }
        }
        if (raw === undefined) value = spec.const;
        else value = spec.kind === 'optional-int' ? toInt(flag, raw) : raw;
        break;
      }
      case 'int-list': {
        const list: number[] = [];
        if (inline !== undefined) list.push(toInt(flag, inline));
        while (argv[i + 1] !== undefined && !isOptionToken(argv[i + 1])) list.push(toInt(flag, argv[++i]!));
        if (list.length === 0) throw new UsageError(`argument ${flag}: expected at least one argument`);
        value = list;
        break;
      }
    }
    if (spec.choices && typeof value === 'string' && !spec.choices.includes(value)) {
      throw new UsageError(
        `argument ${spec.flags[0]}: invalid choice: '${value}' (choose from ${spec.choices.map((c) => `'${c}'`).join(', ')})`,
      );
    }
    options[spec.dest] = value;
  }
  return { options: options as unknown as TrainOptions, given, help };
}

export function helpText(): string {
  const lines = [
    'usage: train [options]   (under yolo-launch: yolo-launch [launcher options] train [options])',
    '',
    'options:',
  ];
  for (const s of OPTION_SPECS) {
    const meta =
      s.kind === 'flag'
        ? ''
        : s.kind === 'int-list'
          ? ' N [N ...]'
          : s.kind.startsWith('optional')
            ? ' [VALUE]'
            : ` ${s.dest.toUpperCase()}`;
    const def = s.kind === 'flag' ? '' : ` (default: ${JSON.stringify(s.default)})`;
    lines.push(`  ${s.flags.join(', ')}${meta}`.padEnd(44) + ` ${s.help.replace('%%', '%')}${def}`);
  }
  lines.push('  -h, --help'.padEnd(44) + ' show this help message and exit');
  return lines.join('\n');
}

/** Refusals that need no file system: unsupported integrations and impossible values. */
export function validateStatic(options: TrainOptions, worldSize: number): void {
  if (options.bucket)
    throw new UsageError(
      '--bucket (gsutil upload) is not supported by yolo-launch; copy <save_dir> yourself after training',
    );
  if (
    options.entity !== undefined ||
    options.upload_dataset !== false ||
    options.bbox_interval !== -1 ||
    options.artifact_alias !== 'latest'
  ) {
    throw new UsageError(
      'W&B options (--entity, --upload_dataset, --bbox_interval, --artifact_alias) are not supported by yolo-launch; results are in <save_dir>/results.csv and train.log',
    );
  }
  if (options.ndjson_console || options.ndjson_file)
    throw new UsageError(
      '--ndjson-console/--ndjson-file are not supported; <save_dir>/train.log holds JSON lines already',
    );
  if (options.epochs < 1 && options.resume === false)
    throw new UsageError(`--epochs must be >= 1 (got ${options.epochs})`);
  if (options.batch_size < 1 && options.batch_size !== AUTOBATCH)
    throw new UsageError(`--batch-size must be >= 1, or -1 for AutoBatch (got ${options.batch_size})`);
  if (options.batch_size !== AUTOBATCH && options.batch_size % worldSize !== 0) {
    throw new UsageError(
      `--batch-size ${options.batch_size} must be a multiple of WORLD_SIZE=${worldSize}; use e.g. --batch-size ${Math.max(worldSize, Math.round(options.batch_size / worldSize) * worldSize)}`,
    );
  }
  if (options.imgsz < 32) throw new UsageError(`--imgsz must be >= 32 (got ${options.imgsz})`);
  if (options.workers < 0) throw new UsageError(`--workers must be >= 0 (got ${options.workers})`);
  if (options.label_smoothing < 0 || options.label_smoothing >= 1)
    throw new UsageError(`--label-smoothing must be in [0, 1) (got ${options.label_smoothing})`);
  if (options.evolve !== undefined && options.resume !== false)
    throw new UsageError('--evolve and --resume cannot be combined');
  if (options.evolve !== undefined && options.evolve < 1)
    throw new UsageError(`--evolve needs a number of generations >= 1 (got ${options.evolve})`);
  checkDistillOptions(options);
  validateEpochSchedules(options);
  if (options.sync_bn && worldSize <= 1) {
    // YOLOv5 ignores --sync-bn without DDP; we do the same, so this is not an error.
  }
}

/** --distill's options go together (YOLOv6 ignores a teacher without --distill; we say so instead). */
function checkDistillOptions(options: TrainOptions): void {
  if (options.distill && !options.teacher_model_path)
    throw new UsageError('--distill needs --teacher-model-path <teacher.pt> (a model trained on the same classes)');
  if (!options.distill && (options.teacher_model_path || options.distill_feat))
    throw new UsageError(
      `${options.distill_feat ? '--distill-feat' : '--teacher-model-path'} is used only with --distill; add --distill to distil from the teacher`,
    );
  if (!(options.temperature > 0)) throw new UsageError(`--temperature must be > 0 (got ${options.temperature})`);
}

/** The late-epoch controls (YOLOv6's): impossible values and combinations that contradict each other. */
function validateEpochSchedules(options: TrainOptions): void {
  if (options.stop_aug_last_n_epoch < 0)
    throw new UsageError(
      `--stop-aug-last-n-epoch/--close-mosaic must be >= 0 (got ${options.stop_aug_last_n_epoch}); 0 keeps mosaic to the end (YOLOv6's negative "never" is 0 here)`,
    );
  if (options.eval_interval < 1)
    throw new UsageError(`--eval-interval must be >= 1 (got ${options.eval_interval}); 1 validates every epoch`);
  if (options.heavy_eval_range < 0)
    throw new UsageError(`--heavy-eval-range must be >= 0 (got ${options.heavy_eval_range})`);
  const scheduled = options.eval_interval !== 1 || options.heavy_eval_range !== 50;
  if (scheduled && options.noval)
    throw new UsageError(
      '--noval validates only the final epoch (as --eval-final-only); drop --noval to validate every --eval-interval epochs',
    );
  if (scheduled && options.evolve !== undefined)
    throw new UsageError(
      '--evolve validates each generation at its final epoch only (as YOLOv5); drop --eval-interval/--heavy-eval-range',
    );
  if (options.save_ckpt_on_last_n_epoch > 0 && (options.nosave || options.evolve !== undefined))
    throw new UsageError(
      `--save-ckpt-on-last-n-epoch keeps checkpoints that ${options.nosave ? '--nosave' : '--evolve'} does not write; drop one of them`,
    );
}
