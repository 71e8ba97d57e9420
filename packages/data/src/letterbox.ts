/**
 * letterbox(): resize keeping the aspect ratio and pad to the target shape (YOLOv5
 * utils.augmentations.letterbox). Geometry follows Python exactly (half-to-even round,
 * float modulo); pixels come from sharp's bilinear resize plus a 114 border.
 */
import { roundHalfEven, pyMod } from '@yolo-launch/core';
import { resizeImage, PAD_VALUE, type RgbImage } from './image.js';
import { composeCanvas } from './canvas.js';

export interface LetterboxOptions {
  /** Pad only to a multiple of stride (minimum rectangle). */
  auto?: boolean;
  /** Stretch to new_shape without padding. */
  scaleFill?: boolean;
  /** Allow enlarging (false for validation: better mAP). */
  scaleup?: boolean;
  stride?: number;
  color?: number;
}

export interface LetterboxGeometry {
  /** (width ratio, height ratio) as YOLOv5 returns it: (r, r) unless scaleFill. */
  ratio: [number, number];
  /** Half padding (dw, dh) in pixels (may be .5). */
  pad: [number, number];
  /** Resized size before padding (width, height). */
  newUnpad: [number, number];
  top: number;
  bottom: number;
  left: number;
  right: number;
  /** Output (height, width). */
  outShape: [number, number];
}

/** int(round(x)) for a padding: Python's int has no -0, so round(-0.1) is 0, not -0. */
function padPixels(x: number): number {
  return Math.trunc(roundHalfEven(x)) + 0;
}

/** The geometry of letterbox for an image of (h, w) to newShape (int n = (n, n), or (h, w)). */
export function letterboxGeometry(
  shape: [number, number],
  newShape: number | [number, number],
  opts: LetterboxOptions = {},
): LetterboxGeometry {
  const { auto = true, scaleFill = false, scaleup = true, stride = 32 } = opts;
  const ns: [number, number] = typeof newShape === 'number' ? [newShape, newShape] : newShape;
  let r = Math.min(ns[0] / shape[0], ns[1] / shape[1]);
  if (!scaleup) r = Math.min(r, 1.0);
  let ratio: [number, number] = [r, r];
  let newUnpad: [number, number] = [Math.trunc(roundHalfEven(shape[1] * r)), Math.trunc(roundHalfEven(shape[0] * r))];
  let dw = ns[1] - newUnpad[0];
  let dh = ns[0] - newUnpad[1];
  if (auto) {
    dw = pyMod(dw, stride);
    dh = pyMod(dh, stride);
  } else if (scaleFill) {
    dw = 0;
    dh = 0;
    newUnpad = [ns[1], ns[0]];
    ratio = [ns[1] / shape[1], ns[0] / shape[0]];
  }
  dw /= 2;
  dh /= 2;
  const top = padPixels(dh - 0.1);
  const bottom = padPixels(dh + 0.1);
  const left = padPixels(dw - 0.1);
  const right = padPixels(dw + 0.1);
  return {
    ratio,
    pad: [dw, dh],
    newUnpad,
    top,
    bottom,
    left,
    right,
    outShape: [newUnpad[1] + top + bottom, newUnpad[0] + left + right],
  };
}

export interface LetterboxResult extends LetterboxGeometry {
  image: RgbImage;
}

/** `into`: optional destination for the output pixels (used when its length fits). */
export async function letterbox(
  img: RgbImage,
  newShape: number | [number, number] = 640,
  opts: LetterboxOptions = {},
  into?: Uint8Array,
): Promise<LetterboxResult> {
  const g = letterboxGeometry([img.height, img.width], newShape, opts);
  const resized =
    img.width !== g.newUnpad[0] || img.height !== g.newUnpad[1]
      ? await resizeImage(img, g.newUnpad[0], g.newUnpad[1])
      : img;
  if (g.top === 0 && g.bottom === 0 && g.left === 0 && g.right === 0 && !(into && into.length === resized.data.length))
    return { ...g, image: resized };
  const placed = { src: resized, sx: 0, sy: 0, dx: g.left, dy: g.top, w: resized.width, h: resized.height };
  const out = composeCanvas(g.outShape[1], g.outShape[0], opts.color ?? PAD_VALUE, [placed], into);
  return { ...g, image: out };
}
