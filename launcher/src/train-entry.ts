/**
 * Where the per-rank command lines live, resolved at run time: `train` is
 * `@yolo-launch/train/cli`; `val` and `detect` (val.py, detect.py) are @yolo-launch/infer's.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';

export const WORKER_COMMANDS = {
  train: '@yolo-launch/train/cli',
  val: '@yolo-launch/infer/val',
  detect: '@yolo-launch/infer/detect',
} as const;
export type WorkerCommand = keyof typeof WORKER_COMMANDS;

export function resolveTrainCli(command: WorkerCommand = 'train'): string {
  const specifier = WORKER_COMMANDS[command];
  let url: string;
  try {
    url = import.meta.resolve(specifier);
  } catch (err) {
    throw new UsageError(
      `cannot find \`${command}\` (${specifier}): ${(err as Error).message}; is ${specifier.split('/').slice(0, 2).join('/')} installed?`,
    );
  }
  const file = fileURLToPath(url);
  if (!existsSync(file)) {
    throw new UsageError(`\`${command}\` is not built: ${file} does not exist; run \`npm run build\` first`);
  }
  return file;
}
