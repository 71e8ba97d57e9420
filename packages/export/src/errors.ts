/**
 * Bad input to export (exit 2, nothing written): flags (UsageError) and weights files that
 * are missing or unreadable (WeightsError). Kept apart from the heavy modules so the command
 * line can refuse bad input without loading tfjs.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export class WeightsError extends Error {
  override readonly name = 'WeightsError';
}

/** The refusal for a --weights path that does not exist. */
export function missingWeights(file: string): WeightsError {
  return new WeightsError(
    `--weights ${file} does not exist (train first: yolo-launch train ... writes runs/train/exp/weights/best.pt)`,
  );
}
