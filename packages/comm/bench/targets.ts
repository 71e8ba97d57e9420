// Issue 16's targets, one row each, judged against gloo measured in the same run. The issue
// asks for ratios, never absolute figures: the machine is shared, so only a comparison made
// seconds apart means anything. A target whose gloo row is missing (no python3 with torch, or
// the size not run) reads "n/a" and counts as missed.
import { LINK_PROFILES } from './shaped-link.js';

/** The fields of a benchmark row that the targets read. */
export interface TargetRow {
  config: string;
  impl: 'yolo-comm' | 'gloo';
  world: number;
  op: string;
  bytes: number;
  medianMs: number;
  p90Ms: number;
  busbwGBs: number;
}

export interface Target {
  figure: string;
  ours?: number;
  reference?: number;
  /** ours / reference, the figure the target is about (for times: reference / ours, so higher is better). */
  ratio?: number;
  target: string;
  met: boolean;
}

const MB = 1024 * 1024;
const KB = 1024;
/** Sizes whose busbw must reach gloo's (issue 16 §1). */
const BANDWIDTH_SIZES = [1 * MB, 7_500_000, 16 * MB, 64 * MB, 256 * MB];
/** At most this p90 / median at every size (issue 16 §1). */
const MAX_P90_OVER_MEDIAN = 2;
/** Over a shaped link: ours / gloo busbw, and the share of the line rate at 64 MB (§2). */
const LINK_VS_GLOO = 0.95;
const LINK_LINE_SHARE_64MB = 0.9;

function sizeName(bytes: number): string {
  if (bytes === 7_500_000) return '7.5 MB';
  return bytes >= MB ? `${bytes / MB} MB` : `${bytes / KB} KB`;
}

function atLeast(figure: string, ours: number | undefined, reference: number | undefined, min: number): Target {
  const ratio = ours !== undefined && reference ? ours / reference : undefined;
  return { figure, ours, reference, ratio, target: `ratio >= ${min}`, met: ratio !== undefined && ratio >= min };
}

/** Times: the ratio is reference / ours, so "at least as fast as gloo" is again ratio >= 1. */
function noSlower(figure: string, ours: number | undefined, reference: number | undefined): Target {
  const ratio = ours && reference !== undefined ? reference / ours : undefined;
  return { figure, ours, reference, ratio, target: 'gloo / ours >= 1', met: ratio !== undefined && ratio >= 1 };
}

function finder(rows: readonly TargetRow[]) {
  return (config: string, impl: TargetRow['impl'], world: number, op: string, bytes: number) =>
    rows.find((r) => r.config === config && r.impl === impl && r.world === world && r.op === op && r.bytes === bytes);
}

/** §1: busbw at every size, 4 KB and barrier medians, p90 spread; loopback, worlds 2 and 4. */
function loopbackTargets(rows: readonly TargetRow[]): Target[] {
  const find = finder(rows);
  const out: Target[] = [];
  for (const world of [2, 4]) {
    for (const bytes of BANDWIDTH_SIZES) {
      const ours = find('main', 'yolo-comm', world, 'allreduce', bytes);
      const gloo = find('gloo', 'gloo', world, 'allreduce', bytes);
      out.push(atLeast(`busbw ${sizeName(bytes)}, world ${world} (GB/s)`, ours?.busbwGBs, gloo?.busbwGBs, 1));
    }
    const small = (op: string, bytes: number) =>
      noSlower(
        `${op === 'barrier' ? 'barrier' : `${sizeName(bytes)} all-reduce`} median, world ${world} (ms)`,
        find('main', 'yolo-comm', world, op, bytes)?.medianMs,
        find('gloo', 'gloo', world, op, bytes)?.medianMs,
      );
    out.push(small('allreduce', 4 * KB), small('barrier', 0));
  }
  const ours = rows.filter((r) => r.config === 'main' && r.impl === 'yolo-comm' && r.medianMs > 0);
  if (ours.length) {
    const worst = ours.reduce((a, b) => (b.p90Ms / b.medianMs > a.p90Ms / a.medianMs ? b : a));
    const spread = worst.p90Ms / worst.medianMs;
    out.push({
      figure: `largest p90 / median (${worst.op} ${sizeName(worst.bytes)}, world ${worst.world})`,
      ours: spread,
      target: `<= ${MAX_P90_OVER_MEDIAN}`,
      met: spread <= MAX_P90_OVER_MEDIAN,
    });
  }
  return out;
}

/** §2: over each shaped link, busbw against gloo on the same link, and the line share at 64 MB. */
function linkTargets(rows: readonly TargetRow[]): Target[] {
  const find = finder(rows);
  const out: Target[] = [];
  for (const profile of LINK_PROFILES) {
    const config = `link-${profile.name}`;
    for (const ours of rows.filter((r) => r.config === config && r.impl === 'yolo-comm' && r.op === 'allreduce')) {
      const gloo = find(config, 'gloo', 2, 'allreduce', ours.bytes);
      out.push(atLeast(`${config} busbw ${sizeName(ours.bytes)} (GB/s)`, ours.busbwGBs, gloo?.busbwGBs, LINK_VS_GLOO));
      if (ours.bytes === 64 * MB)
        out.push(
          atLeast(`${config} 64 MB share of the line rate`, ours.busbwGBs, profile.lineGBs, LINK_LINE_SHARE_64MB),
        );
    }
  }
  return out;
}

export function issueTargets(rows: readonly TargetRow[]): Target[] {
  return [...loopbackTargets(rows), ...linkTargets(rows)];
}

export function targetLines(targets: readonly Target[]): string[] {
  const num = (x: number | undefined): string => (x === undefined ? 'n/a' : x.toFixed(3));
  return targets.map(
    (t) =>
      `  ${t.met ? 'MET ' : 'MISS'} ${t.figure}: ours ${num(t.ours)}, reference ${num(t.reference)}, ratio ${num(t.ratio)} (target ${t.target})`,
  );
}
