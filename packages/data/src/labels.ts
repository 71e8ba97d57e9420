/**
 * Label rows of one YOLO .txt file, parsed and checked exactly as YOLOv5's
 * verify_image_label does (plus the class < nc check that ultralytics added later).
 * A row is [class, x_center, y_center, width, height], normalized to 0..1.
 */

/** Thrown for a label file that makes the image/label pair corrupt. */
export class LabelError extends Error {
  override name = 'LabelError';
}

export interface ParsedLabels {
  /** n x 5 float32 rows [class, x, y, w, h]. */
  labels: Float32Array;
  n: number;
  /** Polygon segments (normalized xy pairs) when the file holds segments. */
  segments: Float32Array[];
  /** Number of duplicate rows removed (0 when none). */
  duplicatesRemoved: number;
}

const f32 = Math.fround;

function parseNumber(s: string): number {
  const v = Number(s);
  if (Number.isNaN(v) && s.toLowerCase() !== 'nan') throw new LabelError(`could not convert string to float: '${s}'`);
  return v;
}

/** segments2boxes: min/max of the polygon points, as float32 xywh. */
function segmentToBox(seg: Float32Array): [number, number, number, number] {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (let i = 0; i < seg.length; i += 2) {
    const x = seg[i] as number;
    const y = seg[i + 1] as number;
    if (x < x1) x1 = x;
    if (x > x2) x2 = x;
    if (y < y1) y1 = y;
    if (y > y2) y2 = y;
  }
  return [f32(f32(x1 + x2) / 2), f32(f32(y1 + y2) / 2), f32(x2 - x1), f32(y2 - y1)];
}

function fmtValues(vals: number[]): string {
  return `[${vals.map((v) => String(f32(v))).join(' ')}]`;
}

function compareRows(a: Float32Array, b: Float32Array): number {
  for (let k = 0; k < a.length; k++) {
    const d = (a[k] as number) - (b[k] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Parses label text. Throws LabelError for rows that make the file corrupt (wrong column
 * count, negative values, coordinates > 1, class >= nc when nc is given).
 */
export function parseLabelText(text: string, nc?: number): ParsedLabels {
  const lines = text
    .trim()
    // Python's str.splitlines() boundaries, control characters included (\x1c-\x1e).
    // eslint-disable-next-line no-control-regex
    .split(/\r\n|\r|\n|\v|\f|\x1c|\x1d|\x1e|\x85|\u2028|\u2029/)
    .filter((l) => l.length > 0)
    .map((l) => l.split(/\s+/).filter((t) => t.length > 0));
  let rows: number[][];
  let segments: Float32Array[] = [];
  if (lines.some((l) => l.length > 6)) {
    // any line longer than 6 values: the whole file is polygons (cls, x1, y1, x2, y2, ...)
    rows = [];
    for (const l of lines) {
      const pts = l.slice(1).map(parseNumber);
      if (pts.length % 2 !== 0) throw new LabelError(`polygon with an odd number of coordinates (${pts.length})`);
      const seg = Float32Array.from(pts);
      segments.push(seg);
      rows.push([f32(parseNumber(l[0] ?? 'nan')), ...segmentToBox(seg)]);
    }
  } else {
    rows = lines.map((l) => l.map((s) => f32(parseNumber(s))));
  }
  const n = rows.length;
  if (n === 0) return { labels: new Float32Array(0), n: 0, segments: [], duplicatesRemoved: 0 };
  const cols = rows[0]!.length;
  if (rows.some((r) => r.length !== cols)) {
    throw new LabelError(
      `rows have different column counts (${[...new Set(rows.map((r) => r.length))].join(', ')}); labels require 5 columns`,
    );
  }
  if (cols !== 5) throw new LabelError(`labels require 5 columns, ${cols} columns detected`);
  const neg = rows.flat().filter((v) => v < 0);
  if (neg.length) throw new LabelError(`negative label values ${fmtValues(neg)}`);
  const oob = rows.flatMap((r) => r.slice(1)).filter((v) => v > 1);
  if (oob.length) throw new LabelError(`non-normalized or out of bounds coordinates ${fmtValues(oob)}`);
  if (nc !== undefined) {
    const maxCls = Math.max(...rows.map((r) => r[0] as number));
    if (maxCls >= nc) {
      throw new LabelError(
        `Label class ${Math.trunc(maxCls)} exceeds dataset class count ${nc}. Possible class labels are 0-${nc - 1}`,
      );
    }
  }
  let rowArrays = rows.map((r) => Float32Array.from(r));
  let duplicatesRemoved = 0;
  // np.unique(axis=0): sorted unique rows; applied only when there are duplicates
  const order = rowArrays.map((_, i) => i).sort((a, b) => compareRows(rowArrays[a]!, rowArrays[b]!) || a - b);
  const keep: number[] = [];
  for (const i of order) {
    const last = keep[keep.length - 1];
    if (last === undefined || compareRows(rowArrays[last]!, rowArrays[i]!) !== 0) keep.push(i);
  }
  if (keep.length < n) {
    duplicatesRemoved = n - keep.length;
    rowArrays = keep.map((i) => rowArrays[i]!);
    if (segments.length) segments = keep.map((i) => segments[i]!);
  }
  const labels = new Float32Array(rowArrays.length * 5);
  rowArrays.forEach((r, i) => labels.set(r, i * 5));
  return { labels, n: rowArrays.length, segments, duplicatesRemoved };
}
