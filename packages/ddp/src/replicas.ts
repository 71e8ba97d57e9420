/**
 * Making and checking identical replicas: broadcast a list of variables from one rank (params
 * and buffers at DDP construction, BN running statistics before validation) and compare
 * per-variable fingerprints across ranks.
 */
import type { ProcessGroup } from '@yolo-launch/comm';
import { tf } from '@yolo-launch/backend';
import { fingerprint } from './checksum.js';

/** Thrown when ranks do not hold bit-identical copies of the same variables. */
export class ReplicaMismatchError extends Error {
  constructor(
    message: string,
    /** rank -> names of the variables that differ from rank 0's. */
    readonly differences: ReadonlyMap<number, readonly string[]>,
  ) {
    super(message);
    this.name = 'ReplicaMismatchError';
  }
}

type Movable = tf.Variable;

function checkMovable(v: Movable): void {
  if (v.dtype !== 'float32' && v.dtype !== 'int32') {
    throw new Error(`variable '${v.name}' has dtype ${v.dtype}; DDP moves only float32 and int32 variables`);
  }
}

/**
 * Broadcast `vars` from `root` to every rank in flat chunks of at most `chunkBytes`; the
 * receivers assign the values to their variables. All ranks pass variables of the same shapes
 * in the same order (their names may differ).
 */
export async function broadcastVariables(
  pg: ProcessGroup,
  vars: readonly Movable[],
  root = 0,
  chunkBytes = 25 * 1024 * 1024,
): Promise<void> {
  await describeAndCheckLayout(pg, vars, root);
  for (const dtype of ['float32', 'int32'] as const) {
    const group = vars.filter((v) => v.dtype === dtype);
    let start = 0;
    while (start < group.length) {
      let end = start;
      let elems = 0;
      while (end < group.length && (end === start || (elems + group[end]!.size) * 4 <= chunkBytes)) {
        elems += group[end]!.size;
        end++;
      }
      const chunk = group.slice(start, end);
      const flat = dtype === 'float32' ? new Float32Array(elems) : new Int32Array(elems);
      if (pg.rank === root) {
        let off = 0;
        for (const v of chunk) {
          flat.set(v.dataSync() as Float32Array | Int32Array, off);
          off += v.size;
        }
      }
      const got = await pg.broadcast(flat, root);
      if (pg.rank !== root) {
        let off = 0;
        for (const v of chunk) {
          const values = got.subarray(off, off + v.size);
          off += v.size;
          const t = tf.tensor(values.slice(), v.shape, dtype);
          v.assign(t);
          t.dispose();
        }
      }
      start = end;
    }
  }
}

/** Refuse to broadcast between ranks whose variable lists differ in count, shape or dtype. */
async function describeAndCheckLayout(pg: ProcessGroup, vars: readonly Movable[], root: number): Promise<void> {
  vars.forEach(checkMovable);
  const layout = vars.map((v) => `${v.dtype}[${v.shape.join(',')}]`).join(';');
  const all = await pg.allGatherObject(layout);
  const ref = all[root]!;
  for (let r = 0; r < all.length; r++) {
    if (all[r] !== ref) {
      const mine = all[r]!.split(';');
      const theirs = ref.split(';');
      let i = 0;
      while (i < Math.min(mine.length, theirs.length) && mine[i] === theirs[i]) i++;
      throw new Error(
        `rank ${r} holds a different model than rank ${root}: ${mine.length} vs ${theirs.length} variables, ` +
          `first difference at variable #${i} (${mine[i] ?? 'none'} vs ${theirs[i] ?? 'none'}); ` +
          `build the same model (same --cfg, same --freeze) on every rank`,
      );
    }
  }
}

/**
 * All-gather a fingerprint of every variable and throw a ReplicaMismatchError naming the ranks
 * and variables that differ from rank 0. Returns the combined fingerprint of rank 0.
 */
export async function verifyReplicas(pg: ProcessGroup, vars: readonly Movable[], what = 'variables'): Promise<string> {
  const mine = vars.map((v) => fingerprint(v.dataSync() as Float32Array | Int32Array));
  const all = await pg.allGatherObject(mine);
  const ref = all[0]!;
  const differences = new Map<number, string[]>();
  for (let r = 1; r < all.length; r++) {
    const theirs = all[r]!;
    const names: string[] = [];
    for (let i = 0; i < Math.max(ref.length, theirs.length); i++) {
      if (ref[i] !== theirs[i]) names.push(vars[i]?.name ?? `#${i}`);
    }
    if (names.length > 0) differences.set(r, names);
  }
  if (differences.size > 0) {
    const parts = [...differences].map(
      ([r, names]) =>
        `rank ${r}: ${names.length} differ (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`,
    );
    throw new ReplicaMismatchError(
      `replicas diverged: ${what} are not bit-identical to rank 0's; ${parts.join('; ')}`,
      differences,
    );
  }
  return fingerprint(new TextEncoder().encode(ref.join('')));
}
