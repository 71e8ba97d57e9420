/** The augmentation hyperparameters of a YOLOv5 hyp.*.yaml (same names and meaning). */
export interface AugmentHyp {
  /** HSV gains: fractions of hue / saturation / value. */
  hsv_h: number;
  hsv_s: number;
  hsv_v: number;
  /** random_perspective: rotation (+/- deg), translation (+/- fraction), scale gain (+/-), shear (+/- deg), perspective (+/- fraction, 0-0.001). */
  degrees: number;
  translate: number;
  scale: number;
  shear: number;
  perspective: number;
  /** Flip probabilities. */
  flipud: number;
  fliplr: number;
  /** Mosaic and mixup probabilities. */
  mosaic: number;
  mixup: number;
}

/** hyp.scratch-low.yaml's augmentation values. */
export const DEFAULT_HYP: Readonly<AugmentHyp> = Object.freeze({
  hsv_h: 0.015,
  hsv_s: 0.7,
  hsv_v: 0.4,
  degrees: 0.0,
  translate: 0.1,
  scale: 0.5,
  shear: 0.0,
  perspective: 0.0,
  flipud: 0.0,
  fliplr: 0.5,
  mosaic: 1.0,
  mixup: 0.0,
});

/** Picks the augmentation keys out of a full hyp dict (missing keys take the defaults). */
export function augmentHypFrom(hyp: Partial<Record<string, unknown>> | undefined): AugmentHyp {
  const out = { ...DEFAULT_HYP } as AugmentHyp;
  if (!hyp) return out;
  for (const k of Object.keys(DEFAULT_HYP) as Array<keyof AugmentHyp>) {
    const v = hyp[k];
    if (v !== undefined && v !== null) {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`hyp '${k}' must be a number, got ${JSON.stringify(v)}`);
      out[k] = n;
    }
  }
  return out;
}

/**
 * The augmentation of the last epochs with mosaic closed (YOLOv6 --stop-aug-last-n-epoch,
 * ultralytics close_mosaic): mosaic and mixup probabilities set to 0, everything else kept, so
 * every sample takes LoadImagesAndLabels' single-image path (letterbox, random_perspective,
 * HSV, flips), exactly as a run whose hyp has mosaic 0 and mixup 0.
 */
export function closedMosaicHyp(hyp: Readonly<AugmentHyp>): AugmentHyp {
  return { ...hyp, mosaic: 0, mixup: 0 };
}
