// utils/downloads.py attempt_download for --weights: a YOLOv5 release asset named on the
// command line (yolov5s.pt, yolov5m6.pt, ...) that does not exist locally is downloaded from
// the v7.0 release into that path, as YOLOv5 does. Offline, the error says where to put it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yolo from '@yolo-launch/yolo';
import { writeFileAtomic } from './checkpoint.js';
import type { DistEnv } from './dist.js';
import type { WeightsDownload } from './train-env.js';
import { UsageError } from './options.js';

/** The detection weights of YOLOv5's v7.0 release. */
export const RELEASE_WEIGHTS = /^yolov5[nsmlx]6?\.pt$/;
/** Where they are: under `base`, the v7.0 release or YOLO_LAUNCH_WEIGHTS_URL (a mirror, or a test server). */
export function releaseUrl(name: string, base: string): string {
  return `${base.replace(/\/?$/, '/')}${name}`;
}

/** True when --weights names a release asset that is not on disk (attemptDownload fetches it). */
export function needsDownload(weights: string): boolean {
  return weights !== '' && !fs.existsSync(weights) && RELEASE_WEIGHTS.test(path.basename(weights));
}

/**
 * Download a missing release asset to `weights` (atomically, after checking it reads as a
 * checkpoint). Throws an Error that names the URL, the reason and the path to put the file at.
 */
export async function attemptDownload(
  weights: string,
  source: WeightsDownload,
  log: (line: string) => void,
): Promise<void> {
  const url = releaseUrl(path.basename(weights), source.weightsUrl);
  const target = path.resolve(weights);
  const offline = (reason: string): Error =>
    new UsageError(
      `--weights ${weights}: not found locally, and the download from ${url} failed (${reason}); download it by hand and put it at ${target}, or give --weights the path of a .pt you have`,
    );
  log(`Downloading ${url} to ${target}...`);
  let bytes: Buffer;
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(source.downloadTimeoutMs),
    });
    if (!res.ok) throw offline(`HTTP ${res.status}`);
    bytes = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw offline(cause ?? (err as Error).message);
  }
  try {
    yolo.readPt(bytes, url);
  } catch (err) {
    throw offline(`what came back is not a checkpoint: ${(err as Error).message}`);
  }
  writeFileAtomic(target, bytes);
}

/**
 * One download per node (local rank 0, as YOLOv5's torch_distributed_zero_first); the other
 * ranks of the node wait for the file to appear (the write is atomic, so it is complete).
 */
export async function downloadReleaseWeights(
  weights: string,
  distEnv: DistEnv,
  source: WeightsDownload,
): Promise<void> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  if (distEnv.localRank <= 0) return attemptDownload(weights, source, log);
  const deadline = Date.now() + source.downloadTimeoutMs;
  while (!fs.existsSync(weights)) {
    if (Date.now() > deadline)
      throw new UsageError(
        `--weights ${weights}: local rank 0 did not download it in time; put the file at ${path.resolve(weights)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
