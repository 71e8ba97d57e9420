/** Where the trainer's command line lives: `@yolo-launch/train/cli`, resolved at run time. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';

export function resolveTrainCli(): string {
  let url: string;
  try {
    url = import.meta.resolve('@yolo-launch/train/cli');
  } catch (err) {
    throw new UsageError(`cannot find the trainer (@yolo-launch/train/cli): ${(err as Error).message}; is @yolo-launch/train installed?`);
  }
  const file = fileURLToPath(url);
  if (!existsSync(file)) {
    throw new UsageError(`the trainer is not built: ${file} does not exist; run \`npm run build\` first`);
  }
  return file;
}
