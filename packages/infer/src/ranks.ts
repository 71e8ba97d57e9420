// What val and detect share about running on N ranks: the backend, the process group (a
// group of one without the launcher), and the run folder that rank 0 creates and every rank
// writes into (runs/val/exp, runs/detect/exp2, ...), created only once every check passed.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '@yolo-launch/backend';
import type { ProcessGroup } from '@yolo-launch/comm';
import { distEnv, incrementPath, openProcessGroup, type DistEnv, type ValShard } from '@yolo-launch/train';

export type BackendOption = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface Ranks {
  env: DistEnv;
  group: ProcessGroup;
  /** This process's share (rank 0 of 1 without the launcher). */
  shard: ValShard;
  isMain: boolean;
}

export async function openRanks(backend: BackendOption): Promise<Ranks> {
  const env = distEnv();
  await initBackend({ backend });
  const group = await openProcessGroup(env);
  const world = Math.max(1, env.worldSize);
  return { env, group, shard: { rank: Math.max(0, env.rank), world, processGroup: group }, isMain: env.rank <= 0 };
}

/** `--project/--name` with increment_path, made on rank 0 and heard by every rank. */
export async function makeSaveDir(
  ranks: Ranks,
  project: string,
  name: string,
  existOk: boolean,
  subdirs: string[] = [],
): Promise<string> {
  let saveDir: string | null = null;
  if (ranks.isMain) {
    saveDir = incrementPath(path.join(project, name), existOk);
    for (const sub of ['', ...subdirs]) fs.mkdirSync(path.join(saveDir, sub), { recursive: true });
  }
  return (await ranks.group.broadcastObject(saveDir, 0))!;
}

/** Every rank's items in one list on every rank, in rank order. */
export async function gatherAll<T>(ranks: Ranks, items: T[]): Promise<T[]> {
  const parts = ranks.shard.world === 1 ? [items] : await ranks.group.allGatherObject(items);
  return parts.flat();
}
