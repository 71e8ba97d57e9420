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

/** parse_model: resolve every row into a LayerPlan. Errors name the row (0-based layer index, as YOLOv5 numbers layers). */
export function planModel(
  d: ModelYaml,
  overrides: ModelOverrides = {},
): { plan: LayerPlan[]; nc: number; anchors: number[][]; ch: number } {
  const nc = overrides.nc ?? d.nc;
  if (!Number.isInteger(nc) || nc < 1) throw new ModelConfigError(`nc must be a positive integer, got ${nc}`);
  const anchorsIn = validateAnchors(overrides.anchors ?? d.anchors, 'anchors');
  const ch0 = overrides.ch ?? d.ch ?? 3;
  const gd = d.depth_multiple;
  const gw = d.width_multiple;
  const chMul = d.channel_multiple ?? 8;
  if (d.activation !== undefined && !/^nn\.SiLU\(\)$/.test(d.activation))
    throw new ModelConfigError(`activation '${d.activation}' is not supported (only nn.SiLU(), the YOLOv5 default)`);

  const rows = [...d.backbone, ...d.head];
  const nDetect = rows.filter((r) => Array.isArray(r) && r[2] === 'Detect').length;
  const detectInputs = rows.find((r) => Array.isArray(r) && r[2] === 'Detect')?.[0];
  const nlGuess = Array.isArray(detectInputs) ? detectInputs.length : 3;
  let anchors: number[][];
  if (typeof anchorsIn === 'number') {
    // anchors given as a count: placeholders 0,1,2,... like YOLOv5; AutoAnchor replaces them.
    const na = anchorsIn;
    anchors = Array.from({ length: nlGuess }, () => Array.from({ length: na * 2 }, (_, k) => k));
  } else anchors = anchorsIn;
  const na = anchors[0]!.length / 2;
  const no = na * (nc + 5);
  if (nDetect !== 1) throw new ModelConfigError(`the model needs exactly one Detect row (the last), found ${nDetect}`);

  const ch: number[] = [];
  const plan: LayerPlan[] = [];
  rows.forEach((row, i) => {
    const part = i < d.backbone.length ? `backbone row ${i}` : `head row ${i - d.backbone.length}`;
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
    const type = MODULE_NAMES[moduleName as string]!;
    // eval() of YAML strings: nc, anchors, None/True/False; others (e.g. 'nearest') stay strings
    const args: YamlArg[] = (argsRaw as YamlArg[]).map((a) => {
      if (a === 'nc') return nc;
      if (a === 'anchors') return anchors as YamlArg;
      if (a === 'None') return null;
      if (a === 'True') return true;
      if (a === 'False') return false;
      return a;
    });
    const inCh = (f: number): number => (f === -1 && i === 0 ? ch0 : ch[f]!);
    const c1 = inCh(resolvedFrom[0]!);
    let n = nRaw > 1 ? Math.max(roundHalfEven(nRaw * gd), 1) : nRaw;
    const nPrinted = n;
    const num = (k: number, def: number | null, name: string): number | null => {
      const v = args[k];
      if (v === undefined || v === null) return def;
      if (typeof v !== 'number' || !Number.isFinite(v))
        fail(`argument ${k} (${name}) of ${moduleName} must be a number`);
      return v as number;
    };
    const int = (k: number, def: number, name: string): number => {
      const v = num(k, def, name)!;
      if (!Number.isInteger(v) || v < 0)
        fail(`argument ${k} (${name}) of ${moduleName} must be a non-negative integer`);
      return v;
    };
    const bool = (k: number, def: boolean, name: string): boolean => {
      const v = args[k];
      if (v === undefined) return def;
      if (typeof v !== 'boolean') fail(`argument ${k} (${name}) of ${moduleName} must be True/False`);
      return v as boolean;
    };
    const needsSingle = (): void => {
      if (froms.length !== 1) fail(`${moduleName} takes a single input`);
    };
    const outCh = (): number => {
      const c = args[0];
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 1)
        fail(`argument 0 (output channels) of ${moduleName} must be a positive integer`);
      return (c as number) !== no ? makeDivisible((c as number) * gw, chMul) : (c as number);
    };
    let spec: ModuleSpec;
    let c2: number;
    let printed: YamlArg[];
    switch (type) {
      case 'Conv':
      case 'Focus': {
        needsSingle();
        c2 = outCh();
        const k = int(1, 1, 'kernel');
        const s = int(2, 1, 'stride');
        const p = num(3, null, 'padding');
        const g = int(4, 1, 'groups');
        if (g !== 1) fail(`grouped convolutions (g=${g}) are not supported`);
        if (type === 'Conv' && args[5] !== undefined && args[5] !== 1) fail(`dilated convolutions are not supported`);
        const actArg = type === 'Conv' ? args[6] : args[5];
        if (actArg !== undefined && typeof actArg !== 'boolean') fail(`only act=True/False is supported`);
        const act = actArg === undefined ? true : (actArg as boolean);
        if (k < 1) fail(`kernel must be >= 1`);
        spec = { type, c1: type === 'Focus' ? c1 : c1, c2, k, s: Math.max(s, 1), p, act };
        printed = [c1, c2, ...args.slice(1)];
        break;
      }
      case 'Bottleneck': {
        needsSingle();
        c2 = outCh();
        spec = { type, c1, c2, shortcut: bool(1, true, 'shortcut'), e: num(3, 0.5, 'e')! };
        if (args[2] !== undefined && args[2] !== 1) fail('grouped convolutions are not supported');
        printed = [c1, c2, ...args.slice(1)];
        break;
      }
      case 'C3': {
        needsSingle();
        c2 = outCh();
        if (args[2] !== undefined && args[2] !== 1) fail('grouped convolutions are not supported');
        spec = { type, c1, c2, n, shortcut: bool(1, true, 'shortcut'), e: num(3, 0.5, 'e')! };
        printed = [c1, c2, n, ...args.slice(1)];
        n = 1;
        break;
      }
      case 'SPPF': {
        needsSingle();
        c2 = outCh();
        spec = { type, c1, c2, k: int(1, 5, 'k') };
        printed = [c1, c2, ...args.slice(1)];
        break;
      }
      case 'SPP': {
        needsSingle();
        c2 = outCh();
        const ks = args[1] ?? [5, 9, 13];
        if (!Array.isArray(ks) || ks.some((k) => typeof k !== 'number' || !Number.isInteger(k) || k % 2 === 0))
          fail('SPP kernels must be a list of odd integers');
        spec = { type, c1, c2, k: ks as number[] };
        printed = [c1, c2, ...args.slice(1)];
        break;
      }
      case 'Concat': {
        const dim = args[0] ?? 1;
        if (dim !== 1) fail(`Concat is only supported along dim 1 (channels), got ${JSON.stringify(dim)}`);
        c2 = resolvedFrom.reduce((acc, f) => acc + inCh(f), 0);
        spec = { type, dim: 1 };
        printed = args;
        break;
      }
      case 'Upsample': {
        needsSingle();
        const [size, scale, mode] = args;
        if (size !== null && size !== undefined)
          fail('nn.Upsample with a fixed size is not supported; use [None, scale, "nearest"]');
        if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 1)
          fail('nn.Upsample scale_factor must be a positive integer');
        if (mode !== undefined && mode !== 'nearest')
          fail(`nn.Upsample mode ${JSON.stringify(mode)} is not supported (only 'nearest')`);
        c2 = c1;
        spec = { type, scale: scale as number };
        printed = args;
        break;
      }
      case 'Detect': {
        if (i !== rows.length - 1) fail('Detect must be the last layer');
        const dnc = args[0];
        if (typeof dnc !== 'number' || !Number.isInteger(dnc) || dnc < 1) fail('Detect argument 0 must be nc');
        let dAnchors = args[1];
        if (typeof dAnchors === 'number')
          dAnchors = Array.from({ length: froms.length }, () =>
            Array.from({ length: (dAnchors as number) * 2 }, (_, k) => k),
          );
        const av = validateAnchors(dAnchors, `${where}: Detect anchors`);
        if (typeof av === 'number' || av.length !== froms.length)
          fail(`Detect has ${froms.length} inputs but ${Array.isArray(av) ? av.length : 0} anchor rows`);
        const chs = resolvedFrom.map(inCh);
        spec = { type, nc: dnc as number, anchors: av as number[][], ch: chs };
        c2 = c1;
        printed = [dnc as number, av as YamlArg, chs];
        break;
      }
    }
    if (n > 1 && type !== 'C3') {
      const c1Spec = (spec as { c1?: number }).c1;
      if (c1Spec !== undefined && c1Spec !== c2)
        fail(`${moduleName} repeated ${n} times needs equal in/out channels (${c1Spec} != ${c2})`);
    }
    plan.push({ i, from, n: nPrinted, repeats: n, module: PRINTED_MODULE[type], args: pyRepr(printed), spec, c2 });
    if (i === 0) ch.length = 0;
    ch.push(c2);
  });
  return { plan, nc, anchors, ch: ch0 };
}
