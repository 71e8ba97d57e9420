/**
 * A padded canvas with images placed on it: the mosaic's 2s x 2s canvas (four images around the
 * centre) and the letterbox (one image between borders). The bytes are those of newImage(fill)
 * followed by one blit per placement, but each pixel is written once: the pad value only where
 * no placement goes. That halves the bytes written for a mosaic, and for a letterbox into a
 * fresh batch buffer it means one pass over memory the kernel has just zeroed, not two.
 */
import { blit, type RgbImage } from './image.js';

/** src[sy : sy + h, sx : sx + w] copied to (dx, dy) of the canvas; must lie inside the canvas. */
export interface Placement {
  src: RgbImage;
  sx: number;
  sy: number;
  dx: number;
  dy: number;
  w: number;
  h: number;
}

/** A width x height canvas: the placements' pixels (later ones on top), `fill` elsewhere; into `into` when its length fits. */
export function composeCanvas(
  width: number,
  height: number,
  fill: number,
  placements: readonly Placement[],
  into?: Uint8Array,
): RgbImage {
  const n = width * height * 3;
  const canvas: RgbImage = { data: into && into.length === n ? into : new Uint8Array(n), width, height };
  const visible = placements.filter((p) => p.w > 0 && p.h > 0);
  fillUncovered(canvas, visible, fill);
  for (const p of visible) blit(canvas, p.dx, p.dy, p.src, p.sx, p.sy, p.w, p.h);
  return canvas;
}

/**
 * Fills every pixel no placement covers. The canvas is cut into bands of rows covered by the
 * same placements; within a band every row has the same gaps. Gaps that touch in memory (the
 * end of one row and the start of the next, whole empty rows) become one TypedArray.fill.
 */
function fillUncovered(canvas: RgbImage, placements: readonly Placement[], fill: number): void {
  const { data, width, height } = canvas;
  const cuts = new Set([0, height]);
  for (const p of placements) cuts.add(p.dy).add(p.dy + p.h);
  const rows = [...cuts].filter((y) => y >= 0 && y <= height).sort((a, b) => a - b);
  let from = 0; // pending byte range [from, to)
  let to = 0;
  for (let b = 0; b + 1 < rows.length; b++) {
    const gaps = rowGaps(placements, rows[b]!, width);
    for (let y = rows[b]!; y < rows[b + 1]!; y++) {
      for (let g = 0; g < gaps.length; g += 2) {
        const start = (y * width + gaps[g]!) * 3;
        const end = (y * width + gaps[g + 1]!) * 3;
        if (start !== to) {
          if (to > from) data.fill(fill, from, to);
          from = start;
        }
        to = end;
      }
    }
  }
  if (to > from) data.fill(fill, from, to);
}

/** The uncovered columns of row y as flat [x0, x1, x0, x1, ...] (half-open, left to right). */
function rowGaps(placements: readonly Placement[], y: number, width: number): number[] {
  const spans = placements
    .filter((p) => y >= p.dy && y < p.dy + p.h)
    .map((p) => [p.dx, p.dx + p.w] as const)
    .sort((a, b) => a[0] - b[0]);
  const gaps: number[] = [];
  let x = 0;
  for (const [x0, x1] of spans) {
    if (x0 > x) gaps.push(x, x0);
    x = Math.max(x, x1);
  }
  if (x < width) gaps.push(x, width);
  return gaps;
}
