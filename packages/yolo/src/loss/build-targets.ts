/**
 * utils/loss.py ComputeLoss.build_targets, on the host. For every detection layer it keeps
 * the (target, anchor) pairs whose w/h ratio to the anchor is below anchor_t and adds the two
 * neighbouring cells nearest to the centre (g = 0.5 offsets), in PyTorch's row order
 * (offset-major, then anchor, then target). Arithmetic is rounded to float32 like torch.
 */
const f = Math.fround;

/** Targets of one detection layer; rows are positives (one per predicted cell/anchor). */
export interface LayerTargets {
  n: number;
  /** class per row */
  tcls: Int32Array;
  /** [gx - gi, gy - gj, gw, gh] per row, grid units, [n, 4] flat */
  tbox: Float32Array;
  /** image index, anchor index, clamped grid row, clamped grid column */
  b: Int32Array;
  a: Int32Array;
  gj: Int32Array;
  gi: Int32Array;
  /** anchor w, h (grid units) per row, [n, 2] flat */
  anch: Float32Array;
}

/** p shape [bs, na, ny, nx, no] per layer. */
export type PredShape = readonly number[];

/**
 * @param targets rows [image, class, x, y, w, h] (xywh normalised 0..1), [nt, 6] flat
 * @param anchors grid units, [nl, na, 2] flat (model.24.anchors)
 */
export function buildTargets(
  shapes: PredShape[],
  targets: Float32Array,
  anchors: Float32Array,
  na: number,
  anchorT: number,
): LayerTargets[] {
  if (targets.length % 6 !== 0)
    throw new Error(`targets must be rows of 6 values [image, class, x, y, w, h], got ${targets.length} values`);
  const nt = targets.length / 6;
  const g = 0.5;
  const off = [
    [0, 0],
    [1, 0],
    [0, 1],
    [-1, 0],
    [0, -1],
  ].map(([x, y]) => [x! * g, y! * g] as const);
  const out: LayerTargets[] = [];
  shapes.forEach((shape, layer) => {
    const ny = shape[2]!;
    const nx = shape[3]!;
    // (anchor, target) pairs passing the ratio test, in row-major (anchor, target) order
    const kept: { a: number; j: number; gx: number; gy: number; gw: number; gh: number }[] = [];
    for (let a = 0; a < na; a++) {
      const aw = anchors[(layer * na + a) * 2]!;
      const ah = anchors[(layer * na + a) * 2 + 1]!;
      for (let j = 0; j < nt; j++) {
        const gw = f(targets[j * 6 + 4]! * nx);
        const gh = f(targets[j * 6 + 5]! * ny);
        const rw = f(gw / aw);
        const rh = f(gh / ah);
        const worst = Math.max(rw, f(1 / rw), rh, f(1 / rh));
        if (worst < anchorT)
          kept.push({ a, j, gx: f(targets[j * 6 + 2]! * nx), gy: f(targets[j * 6 + 3]! * ny), gw, gh });
      }
    }
    const frac = (v: number): number => f(v - Math.floor(v));
    const masks = kept.map((t) => {
      const gxi = f(nx - t.gx);
      const gyi = f(ny - t.gy);
      return [
        true,
        frac(t.gx) < g && t.gx > 1,
        frac(t.gy) < g && t.gy > 1,
        frac(gxi) < g && gxi > 1,
        frac(gyi) < g && gyi > 1,
      ];
    });
    const rows: { t: (typeof kept)[number]; o: number }[] = [];
    for (let o = 0; o < 5; o++) kept.forEach((t, k) => masks[k]![o] && rows.push({ t, o }));
    const n = rows.length;
    const lt: LayerTargets = {
      n,
      tcls: new Int32Array(n),
      tbox: new Float32Array(n * 4),
      b: new Int32Array(n),
      a: new Int32Array(n),
      gj: new Int32Array(n),
      gi: new Int32Array(n),
      anch: new Float32Array(n * 2),
    };
    rows.forEach(({ t, o }, r) => {
      const gi = Math.trunc(f(t.gx - off[o]![0]));
      const gj = Math.trunc(f(t.gy - off[o]![1]));
      lt.b[r] = Math.trunc(targets[t.j * 6]!);
      lt.tcls[r] = Math.trunc(targets[t.j * 6 + 1]!);
      lt.a[r] = t.a;
      lt.gi[r] = Math.min(Math.max(gi, 0), nx - 1);
      lt.gj[r] = Math.min(Math.max(gj, 0), ny - 1);
      lt.tbox.set([f(t.gx - gi), f(t.gy - gj), t.gw, t.gh], r * 4);
      lt.anch.set([anchors[(layer * na + t.a) * 2]!, anchors[(layer * na + t.a) * 2 + 1]!], r * 2);
    });
    out.push(lt);
  });
  return out;
}
