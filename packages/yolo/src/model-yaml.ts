/**
 * YOLOv5 model YAML (v6+ format) and models.yolo.parse_model: rows [from, number, module, args]
 * become a validated layer plan with resolved channel counts. Nothing here touches tensors,
 * so a bad config is refused before any weight is allocated.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { makeDivisible, roundHalfEven } from '@yolo-launch/core';

export type YamlScalar = number | string | boolean | null;
export type YamlArg = YamlScalar | YamlArg[];
export type YamlRow = [from: number | number[], number: number, module: string, args: YamlArg[]];

/** The model YAML as YOLOv5 reads it. */
export interface ModelYaml {
  nc: number;
  depth_multiple: number;
  width_multiple: number;
  /** Anchor pixels per detection layer [[w,h, w,h, ...], ...], or a number of anchors per layer (AutoAnchor computes them). */
  anchors: number[][] | number;
  backbone: YamlRow[];
  head: YamlRow[];
  ch?: number;
  activation?: string;
  channel_multiple?: number;
}

export type ModuleSpec =
  | { type: 'Conv'; c1: number; c2: number; k: number; s: number; p: number | null; act: boolean }
  | { type: 'Bottleneck'; c1: number; c2: number; shortcut: boolean; e: number }
  | { type: 'C3'; c1: number; c2: number; n: number; shortcut: boolean; e: number }
  | { type: 'SPPF'; c1: number; c2: number; k: number }
  | { type: 'SPP'; c1: number; c2: number; k: number[] }
  | { type: 'Focus'; c1: number; c2: number; k: number; s: number; p: number | null; act: boolean }
  | { type: 'Concat'; dim: number }
  | { type: 'Upsample'; scale: number }
  | { type: 'Detect'; nc: number; anchors: number[][]; ch: number[] };

/** One resolved layer, with the table YOLOv5 prints (from, n, module, args). */
export interface LayerPlan {
  i: number;
  from: number | number[];
  /** Repeats as printed (C3's depth goes into its args; its n is 1 here). */
  n: number;
  /** Repeats of the module itself (nn.Sequential when > 1). */
  repeats: number;
  module: string;
  /** Python-style repr of the resolved args, as in YOLOv5's model summary. */
  args: string;
  spec: ModuleSpec;
  /** Output channels. */
  c2: number;
}

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

export interface ModelOverrides {
  /** Number of classes (overrides the YAML's nc, like Model(cfg, nc=...)). */
  nc?: number;
  /** Anchors override: pixels per layer, or an anchor count per layer. */
  anchors?: number[][] | number;
  /** Input channels (default: yaml ch or 3). */
  ch?: number;
}

const MODULE_NAMES: Record<string, ModuleSpec['type']> = {
  Conv: 'Conv',
  Bottleneck: 'Bottleneck',
  C3: 'C3',
  SPPF: 'SPPF',
  SPP: 'SPP',
  Focus: 'Focus',
  Concat: 'Concat',
  'nn.Upsample': 'Upsample',
  Upsample: 'Upsample',
  Detect: 'Detect',
};

const PRINTED_MODULE: Record<ModuleSpec['type'], string> = {
  Conv: 'models.common.Conv',
  Bottleneck: 'models.common.Bottleneck',
  C3: 'models.common.C3',
  SPPF: 'models.common.SPPF',
  SPP: 'models.common.SPP',
  Focus: 'models.common.Focus',
  Concat: 'models.common.Concat',
  Upsample: 'torch.nn.modules.upsampling.Upsample',
  Detect: 'models.yolo.Detect',
};

/** Read a model YAML file (or accept an already parsed object) and check its top-level keys. */
export function readModelYaml(cfg: string | ModelYaml): ModelYaml {
  let d: unknown;
  let where = 'model config';
  if (typeof cfg === 'string') {
    where = cfg;
    let text: string;
    try {
      text = readFileSync(cfg, 'utf8');
    } catch (e) {
      throw new ModelConfigError(`cannot read model YAML ${cfg}: ${(e as Error).message}`);
    }
    try {
      d = yaml.load(text);
    } catch (e) {
      throw new ModelConfigError(`${cfg} is not valid YAML: ${(e as Error).message}`);
    }
  } else {
    d = structuredClone(cfg);
  }
  if (typeof d !== 'object' || d === null || Array.isArray(d))
    throw new ModelConfigError(
      `${where}: expected a mapping with nc, depth_multiple, width_multiple, anchors, backbone, head`,
    );
  const m = d as Record<string, unknown>;
  for (const k of ['nc', 'depth_multiple', 'width_multiple', 'anchors', 'backbone', 'head']) {
    if (!(k in m)) throw new ModelConfigError(`${where}: missing key '${k}'`);
  }
  for (const k of ['nc', 'depth_multiple', 'width_multiple']) {
    if (typeof m[k] !== 'number' || !(Number(m[k]) > 0))
      throw new ModelConfigError(`${where}: '${k}' must be a positive number, got ${JSON.stringify(m[k])}`);
  }
  if (!Array.isArray(m.backbone) || !Array.isArray(m.head))
    throw new ModelConfigError(`${where}: 'backbone' and 'head' must be lists of [from, number, module, args] rows`);
  return m as unknown as ModelYaml;
}

function pyRepr(a: YamlArg | number[][] | undefined): string {
  if (a === null || a === undefined) return 'None';
  if (typeof a === 'boolean') return a ? 'True' : 'False';
  if (typeof a === 'string') return `'${a}'`;
  if (typeof a === 'number') return Number.isInteger(a) ? String(a) : String(a);
  return `[${a.map((x) => pyRepr(x as YamlArg)).join(', ')}]`;
}

function validateAnchors(anchors: unknown, where: string): number[][] | number {
  if (typeof anchors === 'number') {
    if (!Number.isInteger(anchors) || anchors < 1)
      throw new ModelConfigError(`${where}: anchors as a count must be a positive integer, got ${anchors}`);
    return anchors;
  }
  if (!Array.isArray(anchors) || anchors.length === 0)
    throw new ModelConfigError(
      `${where}: anchors must be a list of [w, h, w, h, ...] rows (one per detection layer) or a number`,
    );
  const rows = anchors as unknown[];
  const len = Array.isArray(rows[0]) ? (rows[0] as unknown[]).length : -1;
  rows.forEach((r, i) => {
    if (
      !Array.isArray(r) ||
      r.length !== len ||
      len % 2 !== 0 ||
      len === 0 ||
      r.some((v) => typeof v !== 'number' || !(v > 0))
    )
      throw new ModelConfigError(
        `${where}: anchors row ${i} must hold ${len > 0 ? len : 'an even number of'} positive numbers (w, h pairs) like the other rows, got ${JSON.stringify(r)}`,
      );
  });
  return rows as number[][];
}

/** The values of the whole model that every row reads. */
interface ModelContext {
  nc: number;
  anchors: number[][];
  /** Detect's outputs per cell: an output channel count equal to it is not scaled (as in parse_model). */
  no: number;
  /** depth_multiple, width_multiple, channel_multiple */
  gd: number;
  gw: number;
  chMul: number;
  /** Input channels. */
  ch0: number;
  rowCount: number;
  backboneRows: number;
}

/** Readers of a row's args: each fails naming the row, the argument and the module. */
interface ArgReaders {
  num(k: number, def: number | null, name: string): number | null;
  int(k: number, def: number, name: string): number;
  bool(k: number, def: boolean, name: string): boolean;
  /** Fails unless the row has one input. */
  needsSingle(): void;
  /** Argument 0 as output channels, scaled by width_multiple to a multiple of channel_multiple. */
  outCh(): number;
}

/** One row being resolved: its place, its checked parts and evaluated args. */
interface RowParts extends ArgReaders {
  i: number;
  where: string;
  from: number | number[];
  moduleName: string;
  type: ModuleSpec['type'];
  froms: number[];
  /** `froms` as absolute layer indices (-1 on layer 0: the input). */
  resolvedFrom: number[];
  args: YamlArg[];
  /** Channels of the first input. */
  c1: number;
  /** Repeats after depth_multiple. */
  n: number;
  inCh(f: number): number;
  fail(msg: string): never;
}

/** What a module row resolves to; `repeats` only where it differs from the row's n (C3). */
interface Resolved {
  spec: ModuleSpec;
  c2: number;
  printed: YamlArg[];
  repeats?: number;
}

/** eval() of YAML strings: nc, anchors, None/True/False; others (e.g. 'nearest') stay strings. */
function evalArgs(argsRaw: YamlArg[], model: ModelContext): YamlArg[] {
  return argsRaw.map((a) => {
    if (a === 'nc') return model.nc;
    if (a === 'anchors') return model.anchors as YamlArg;
    if (a === 'None') return null;
    if (a === 'True') return true;
    if (a === 'False') return false;
    return a;
  });
}

function argReaders(
  args: YamlArg[],
  moduleName: string,
  inputs: number,
  fail: (msg: string) => never,
  model: ModelContext,
): ArgReaders {
  const num = (k: number, def: number | null, name: string): number | null => {
    const v = args[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`argument ${k} (${name}) of ${moduleName} must be a number`);
    return v as number;
  };
  return {
    num,
    int: (k, def, name) => {
      const v = num(k, def, name)!;
      if (!Number.isInteger(v) || v < 0)
        fail(`argument ${k} (${name}) of ${moduleName} must be a non-negative integer`);
      return v;
    },
    bool: (k, def, name) => {
      const v = args[k];
      if (v === undefined) return def;
      if (typeof v !== 'boolean') fail(`argument ${k} (${name}) of ${moduleName} must be True/False`);
      return v as boolean;
    },
    needsSingle: () => {
      if (inputs !== 1) fail(`${moduleName} takes a single input`);
    },
    outCh: () => {
      const c = args[0];
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 1)
        fail(`argument 0 (output channels) of ${moduleName} must be a positive integer`);
      return (c as number) !== model.no ? makeDivisible((c as number) * model.gw, model.chMul) : (c as number);
    },
  };
}

/** Checks row i's [from, number, module, args] and reads it; `ch` holds the earlier layers' output channels. */
function readRow(row: YamlRow, i: number, model: ModelContext, ch: readonly number[]): RowParts {
  const part = i < model.backboneRows ? `backbone row ${i}` : `head row ${i - model.backboneRows}`;
  const where = `layer ${i} (${part})`;
  const fail = (msg: string): never => {
    throw new ModelConfigError(`${where}: ${msg}; row was ${JSON.stringify(row)}`);
  };
  if (!Array.isArray(row) || row.length !== 4) fail('expected [from, number, module, args]');
  const [from, nRaw, moduleName, argsRaw] = row;
  const froms = Array.isArray(from) ? from : [from];
  if (froms.length === 0 || froms.some((f) => !Number.isInteger(f)))
    fail(`'from' must be an integer or a list of integers`);
  const resolvedFrom = froms.map((f) => (f < 0 ? i + f : f));
  if (resolvedFrom.some((f) => f < (i === 0 ? -1 : 0) || f >= i))
    fail(`'from' ${JSON.stringify(from)} must point to earlier layers (or -1 for the input on layer 0)`);
  if (i === 0 && froms.some((f) => f !== -1)) fail(`the first layer must take the input (from -1)`);
  if (!Number.isInteger(nRaw) || nRaw < 1) fail(`'number' must be a positive integer`);
  if (typeof moduleName !== 'string' || !(moduleName in MODULE_NAMES))
    fail(`unknown module ${JSON.stringify(moduleName)}; supported: ${Object.keys(MODULE_NAMES).join(', ')}`);
  if (!Array.isArray(argsRaw)) fail(`'args' must be a list`);
  const args = evalArgs(argsRaw, model);
  const inCh = (f: number): number => (f === -1 && i === 0 ? model.ch0 : ch[f]!);
  return {
    i,
    where,
    from,
    moduleName,
    type: MODULE_NAMES[moduleName]!,
    froms,
    resolvedFrom,
    args,
    c1: inCh(resolvedFrom[0]!),
    n: nRaw > 1 ? Math.max(roundHalfEven(nRaw * model.gd), 1) : nRaw,
    inCh,
    fail,
    ...argReaders(args, moduleName, froms.length, fail, model),
  };
}

function resolveConv(r: RowParts): Resolved {
  const type = r.type as 'Conv' | 'Focus';
  r.needsSingle();
  const c2 = r.outCh();
  const k = r.int(1, 1, 'kernel');
  const s = r.int(2, 1, 'stride');
  const p = r.num(3, null, 'padding');
  const g = r.int(4, 1, 'groups');
  if (g !== 1) r.fail(`grouped convolutions (g=${g}) are not supported`);
  if (type === 'Conv' && r.args[5] !== undefined && r.args[5] !== 1) r.fail(`dilated convolutions are not supported`);
  const actArg = type === 'Conv' ? r.args[6] : r.args[5];
  if (actArg !== undefined && typeof actArg !== 'boolean') r.fail(`only act=True/False is supported`);
  const act = actArg === undefined ? true : (actArg as boolean);
  if (k < 1) r.fail(`kernel must be >= 1`);
  return {
    spec: { type, c1: r.c1, c2, k, s: Math.max(s, 1), p, act },
    c2,
    printed: [r.c1, c2, ...r.args.slice(1)],
  };
}

function resolveBottleneck(r: RowParts): Resolved {
  r.needsSingle();
  const c2 = r.outCh();
  const spec: ModuleSpec = {
    type: 'Bottleneck',
    c1: r.c1,
    c2,
    shortcut: r.bool(1, true, 'shortcut'),
    e: r.num(3, 0.5, 'e')!,
  };
  if (r.args[2] !== undefined && r.args[2] !== 1) r.fail('grouped convolutions are not supported');
  return { spec, c2, printed: [r.c1, c2, ...r.args.slice(1)] };
}

/** C3 takes the depth itself (its Bottlenecks): printed in its args, and the layer is not repeated. */
function resolveC3(r: RowParts): Resolved {
  r.needsSingle();
  const c2 = r.outCh();
  if (r.args[2] !== undefined && r.args[2] !== 1) r.fail('grouped convolutions are not supported');
  const spec: ModuleSpec = {
    type: 'C3',
    c1: r.c1,
    c2,
    n: r.n,
    shortcut: r.bool(1, true, 'shortcut'),
    e: r.num(3, 0.5, 'e')!,
  };
  return { spec, c2, printed: [r.c1, c2, r.n, ...r.args.slice(1)], repeats: 1 };
}

function resolveSPPF(r: RowParts): Resolved {
  r.needsSingle();
  const c2 = r.outCh();
  return { spec: { type: 'SPPF', c1: r.c1, c2, k: r.int(1, 5, 'k') }, c2, printed: [r.c1, c2, ...r.args.slice(1)] };
}

function resolveSPP(r: RowParts): Resolved {
  r.needsSingle();
  const c2 = r.outCh();
  const ks = r.args[1] ?? [5, 9, 13];
  if (!Array.isArray(ks) || ks.some((k) => typeof k !== 'number' || !Number.isInteger(k) || k % 2 === 0))
    r.fail('SPP kernels must be a list of odd integers');
  return { spec: { type: 'SPP', c1: r.c1, c2, k: ks as number[] }, c2, printed: [r.c1, c2, ...r.args.slice(1)] };
}

function resolveConcat(r: RowParts): Resolved {
  const dim = r.args[0] ?? 1;
  if (dim !== 1) r.fail(`Concat is only supported along dim 1 (channels), got ${JSON.stringify(dim)}`);
  const c2 = r.resolvedFrom.reduce((acc, f) => acc + r.inCh(f), 0);
  return { spec: { type: 'Concat', dim: 1 }, c2, printed: r.args };
}

function resolveUpsample(r: RowParts): Resolved {
  r.needsSingle();
  const [size, scale, mode] = r.args;
  if (size !== null && size !== undefined)
    r.fail('nn.Upsample with a fixed size is not supported; use [None, scale, "nearest"]');
  if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 1)
    r.fail('nn.Upsample scale_factor must be a positive integer');
  if (mode !== undefined && mode !== 'nearest')
    r.fail(`nn.Upsample mode ${JSON.stringify(mode)} is not supported (only 'nearest')`);
  return { spec: { type: 'Upsample', scale: scale as number }, c2: r.c1, printed: r.args };
}

/** Detect: the last row; anchors as rows (or a count: placeholders AutoAnchor replaces), one row per input. */
function resolveDetect(r: RowParts, model: ModelContext): Resolved {
  if (r.i !== model.rowCount - 1) r.fail('Detect must be the last layer');
  const dnc = r.args[0];
  if (typeof dnc !== 'number' || !Number.isInteger(dnc) || dnc < 1) r.fail('Detect argument 0 must be nc');
  let dAnchors = r.args[1];
  if (typeof dAnchors === 'number')
    dAnchors = Array.from({ length: r.froms.length }, () =>
      Array.from({ length: (dAnchors as number) * 2 }, (_, k) => k),
    );
  const av = validateAnchors(dAnchors, `${r.where}: Detect anchors`);
  if (typeof av === 'number' || av.length !== r.froms.length)
    r.fail(`Detect has ${r.froms.length} inputs but ${Array.isArray(av) ? av.length : 0} anchor rows`);
  const chs = r.resolvedFrom.map(r.inCh);
  return {
    spec: { type: 'Detect', nc: dnc as number, anchors: av as number[][], ch: chs },
    c2: r.c1,
    printed: [dnc as number, av as YamlArg, chs],
  };
}

const RESOLVERS: Record<ModuleSpec['type'], (r: RowParts, model: ModelContext) => Resolved> = {
  Conv: resolveConv,
  Focus: resolveConv,
  Bottleneck: resolveBottleneck,
  C3: resolveC3,
  SPPF: resolveSPPF,
  SPP: resolveSPP,
  Concat: resolveConcat,
  Upsample: resolveUpsample,
  Detect: resolveDetect,
};

/** One row as a LayerPlan; a repeated module must keep its channel count. */
function planLayer(r: RowParts, model: ModelContext): LayerPlan {
  const { spec, c2, printed, repeats = r.n } = RESOLVERS[r.type](r, model);
  if (repeats > 1 && r.type !== 'C3') {
    const c1Spec = (spec as { c1?: number }).c1;
    if (c1Spec !== undefined && c1Spec !== c2)
      r.fail(`${r.moduleName} repeated ${repeats} times needs equal in/out channels (${c1Spec} != ${c2})`);
  }
  return { i: r.i, from: r.from, n: r.n, repeats, module: PRINTED_MODULE[r.type], args: pyRepr(printed), spec, c2 };
}

/** The model's anchors as rows: a count becomes placeholders 0,1,2,... per layer, like YOLOv5 (AutoAnchor replaces them). */
function anchorRows(anchorsIn: number[][] | number, rows: readonly YamlRow[]): number[][] {
  if (typeof anchorsIn !== 'number') return anchorsIn;
  const detectInputs = rows.find((r) => Array.isArray(r) && r[2] === 'Detect')?.[0];
  const nlGuess = Array.isArray(detectInputs) ? detectInputs.length : 3;
  return Array.from({ length: nlGuess }, () => Array.from({ length: anchorsIn * 2 }, (_, k) => k));
}

/** The model-wide values, checked: nc, anchors, activation, exactly one Detect row. */
function modelContext(d: ModelYaml, overrides: ModelOverrides, rows: readonly YamlRow[]): ModelContext {
  const nc = overrides.nc ?? d.nc;
  if (!Number.isInteger(nc) || nc < 1) throw new ModelConfigError(`nc must be a positive integer, got ${nc}`);
  const anchorsIn = validateAnchors(overrides.anchors ?? d.anchors, 'anchors');
  const ch0 = overrides.ch ?? d.ch ?? 3;
  if (d.activation !== undefined && !/^nn\.SiLU\(\)$/.test(d.activation))
    throw new ModelConfigError(`activation '${d.activation}' is not supported (only nn.SiLU(), the YOLOv5 default)`);
  const nDetect = rows.filter((r) => Array.isArray(r) && r[2] === 'Detect').length;
  const anchors = anchorRows(anchorsIn, rows);
  const na = anchors[0]!.length / 2;
  if (nDetect !== 1) throw new ModelConfigError(`the model needs exactly one Detect row (the last), found ${nDetect}`);
  return {
    nc,
    anchors,
    no: na * (nc + 5),
    gd: d.depth_multiple,
    gw: d.width_multiple,
    chMul: d.channel_multiple ?? 8,
    ch0,
    rowCount: rows.length,
    backboneRows: d.backbone.length,
  };
}

/** parse_model: resolve every row into a LayerPlan. Errors name the row (0-based layer index, as YOLOv5 numbers layers). */
export function planModel(
  d: ModelYaml,
  overrides: ModelOverrides = {},
): { plan: LayerPlan[]; nc: number; anchors: number[][]; ch: number } {
  const rows = [...d.backbone, ...d.head];
  const model = modelContext(d, overrides, rows);
  // Output channels of each layer so far, read by the rows after it.
  const ch: number[] = [];
  const plan = rows.map((row, i) => {
    const layer = planLayer(readRow(row, i, model, ch), model);
    ch.push(layer.c2);
    return layer;
  });
  return { plan, nc: model.nc, anchors: model.anchors, ch: model.ch0 };
}
