// AutoBatch's decision (YOLOv5 utils/autobatch.py): fit a line through the memory measured at
// a few batch sizes, and take the largest batch whose predicted memory is `fraction` of what
// the device gives this rank. Pure numbers; measuring is profile.ts, devices are memory.ts.

/** YOLOv5's probe sizes. */
export const PROBE_BATCH_SIZES: readonly number[] = [1, 2, 4, 8, 16];
/** What the issue asks (ultralytics 8's value; YOLOv5 v7.0's autobatch() defaults to 0.8). */
export const DEFAULT_FRACTION = 0.6;
/** YOLOv5's fallback when the fit makes no sense (its `batch_size=16` argument). */
export const DEFAULT_BATCH = 16;
/** YOLOv5's "safe range" of a fitted batch size. */
export const MAX_AUTOBATCH = 1024;

/** Memory measured at one probe batch size; `bytes` null when that size failed or was skipped. */
export interface MemorySample {
  batch: number;
  bytes: number | null;
}

export interface LineFit {
  /** bytes per image */
  slope: number;
  /** bytes at batch 0 (what does not grow with the batch) */
  intercept: number;
}

/** Least-squares line through (x, y): np.polyfit(x, y, deg=1). */
export function fitLine(xs: readonly number[], ys: readonly number[]): LineFit {
  if (xs.length !== ys.length || xs.length < 2)
    throw new Error(`a line fit needs two or more points, got ${xs.length}`);
  const n = xs.length;
  const meanX = xs.reduce((s, x) => s + x, 0) / n;
  const meanY = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - meanX) * (ys[i]! - meanY);
    sxx += (xs[i]! - meanX) ** 2;
  }
  if (sxx === 0) throw new Error('a line fit needs two different batch sizes');
  const slope = sxy / sxx;
  return { slope, intercept: meanY - slope * meanX };
}

export interface BatchDecisionInput {
  samples: readonly MemorySample[];
  /** what this rank may hold at its peak, its own memory included (bytes) */
  availableBytes: number;
  fraction?: number;
  defaultBatch?: number;
}

export interface BatchDecision {
  batch: number;
  fit: LineFit | null;
  /** memory the fit predicts at `batch`, bytes */
  predictedBytes: number;
  /** why the fitted value was replaced, when it was (printed as a warning) */
  fallback: string | null;
}

/**
 * b = int((available·fraction − intercept) / slope), then YOLOv5's two guards: not at or past
 * the first probe size that failed (take the last one that worked), and within 1..1024
 * (else the default). Unlike YOLOv5, the fit uses the batch sizes that actually succeeded.
 */
export function chooseBatchSize(input: BatchDecisionInput): BatchDecision {
  const fraction = input.fraction ?? DEFAULT_FRACTION;
  const defaultBatch = input.defaultBatch ?? DEFAULT_BATCH;
  const ok = input.samples.filter((s): s is { batch: number; bytes: number } => s.bytes !== null);
  if (ok.length < 2) {
    return {
      batch: defaultBatch,
      fit: null,
      predictedBytes: NaN,
      fallback: `only ${ok.length} probe batch size(s) ran, too few to fit; using default batch-size ${defaultBatch}`,
    };
  }
  const fit = fitLine(
    ok.map((s) => s.batch),
    ok.map((s) => s.bytes),
  );
  let batch = Math.trunc((input.availableBytes * fraction - fit.intercept) / fit.slope);
  let fallback: string | null = null;
  const firstFailed = input.samples.find((s) => s.bytes === null);
  if (firstFailed && batch >= firstFailed.batch) {
    const safe = [...ok].reverse().find((s) => s.batch < firstFailed.batch);
    batch = safe?.batch ?? input.samples[0]!.batch;
  }
  const outside = outsideSafeRange(batch, fit, input.availableBytes * fraction);
  if (outside) {
    fallback = `${outside}; using default batch-size ${defaultBatch}`;
    batch = defaultBatch;
  }
  return { batch, fit, predictedBytes: fit.intercept + fit.slope * batch, fallback };
}

/** Why a fitted batch size is not usable (YOLOv5's `b < 1 or b > 1024`), or null. */
function outsideSafeRange(batch: number, fit: LineFit, budgetBytes: number): string | null {
  const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)}G`;
  if (!(fit.slope > 0)) return 'measured memory did not grow with the batch size';
  if (batch < 1)
    return `fitted batch-size ${batch} is below 1: the budget ${gib(budgetBytes)} does not hold one image's step (${gib(fit.intercept + fit.slope)})`;
  if (batch > MAX_AUTOBATCH) return `fitted batch-size ${batch} is above ${MAX_AUTOBATCH}, outside the safe range`;
  return null;
}

/** Whether a probe size may run: its memory predicted from the sizes measured so far fits. */
export function probeFits(measured: readonly MemorySample[], batch: number, availableBytes: number): boolean {
  const ok = measured.filter((s): s is { batch: number; bytes: number } => s.bytes !== null);
  if (ok.length < 2) return true;
  const fit = fitLine(
    ok.map((s) => s.batch),
    ok.map((s) => s.bytes),
  );
  return fit.intercept + fit.slope * batch <= availableBytes;
}
