// utils/downloads.py attempt_download for --weights: a YOLOv5 release asset named on the
// command line (yolov5s.pt, yolov5m6.pt, ...) that does not exist locally is downloaded from
// the v7.0 release into that path, as YOLOv5 does. Offline, the error says where to put it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yolo from '@yolo-launch/yolo';
import { writeFileAtomic } from './checkpoint.js';
import type { DistEnv } from './dist.js';
import { UsageError } from './options.js';

/** The detection weights of YOLOv5's v7.0 release. */
export const RELEASE_WEIGHTS = /^yolov5[nsmlx]6?\.pt$/;
/** Where they are; YOLO_LAUNCH_WEIGHTS_URL overrides it (a mirror, or a test server). */
export function releaseUrl(name: string): string {
  const base = process.env.YOLO_LAUNCH_WEIGHTS_URL ?? 'https://github.com/ultralytics/yolov5/releases/download/v7.0/';
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
export async function attemptDownload(weights: string, log: (line: string) => void): Promise<void> {
  const url = releaseUrl(path.basename(weights));
  const target = path.resolve(weights);
  const offline = (reason: string): Error =>
    new UsageError(
      `--weights ${weights}: not found locally, and the download from ${url} failed (${reason}); download it by hand and put it at ${target}, or give --weights the path of a .pt you have`,
    );
  log(`Downloading ${url} to ${target}...`);
  let bytes: Buffer;
  try {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(Number(process.env.YOLO_LAUNCH_DOWNLOAD_TIMEOUT_MS ?? 600_000)),
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
export async function downloadReleaseWeights(weights: string, distEnv: DistEnv): Promise<void> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  if (distEnv.localRank <= 0) return attemptDownload(weights, log);
  const deadline = Date.now() + Number(process.env.YOLO_LAUNCH_DOWNLOAD_TIMEOUT_MS ?? 600_000);
  while (!fs.existsSync(weights)) {
    if (Date.now() > deadline)
      throw new UsageError(
        `--weights ${weights}: local rank 0 did not download it in time; put the file at ${path.resolve(weights)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
