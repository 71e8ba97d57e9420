// One rank of a test job. The scenario comes from argv[2]; RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT, YOLO_LAUNCH_TOKEN from the environment (as the launcher sets them).
// Prints one JSON line `RESULT {...}` on success; exits 1 with `ERROR {...}` on failure.
import crypto from 'node:crypto';
import { decode16, encode16 } from '../../src/half.js';
import { initProcessGroup, sharedFloat32Array, type ZmqProcessGroup } from '../../src/index.js';

const scenario = process.argv[2] ?? 'basic';
const arg = process.argv[3];

/** Deterministic data: every rank can rebuild every other rank's input. */
export function inputOf(rank: number, length: number, salt = 0): Float32Array {
  const a = new Float32Array(length);
  let s = (rank + 1) * 2654435761 + length * 40503 + salt * 97;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    a[i] = ((s >>> 8) / (1 << 24) - 0.5) * 8;
  }
  return a;
}

const digest = (a: ArrayBufferView): string =>
  crypto
    .createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex')
    .slice(0, 16);

function checkSum(pg: ZmqProcessGroup, got: Float32Array, length: number, mean: boolean, salt: number): number {
  // Float64 sequential sum; the float32 ring must agree to within float32 rounding.
  let worst = 0;
  const inputs = Array.from({ length: pg.worldSize }, (_, r) => inputOf(r, length, salt));
  for (let i = 0; i < length; i++) {
    let ref = 0;
    let mag = 0;
    for (const x of inputs) {
      ref += x[i]!;
      mag += Math.abs(x[i]!);
    }
    if (mean) {
      ref /= pg.worldSize;
      mag /= pg.worldSize;
    }
    const err = Math.abs(got[i]! - ref);
    const tol = pg.worldSize * 2 ** -23 * mag + 1e-30;
    if (err > tol)
      throw new Error(`element ${i} of length ${length}: got ${got[i]}, float64 reference ${ref} (tolerance ${tol})`);
    worst = Math.max(worst, err / (mag || 1));
  }
  return worst;
}

async function main(): Promise<void> {
  const pg = await initProcessGroup({
    configDigest: process.env.TEST_DIGEST ?? 'same',
    log: process.env.TEST_QUIET ? false : undefined,
  });
  const out: Record<string, unknown> = {
    rank: pg.rank,
    worldSize: pg.worldSize,
    transport: pg.info.transport,
    plane: pg.info.nativePlane === null ? 'ts' : 'native',
  };
  try {
    switch (scenario) {
      case 'basic': {
        const lengths = (arg ?? '0,1,7,1000,1000003').split(',').map(Number);
        const hashes: Record<string, string> = {};
        for (const [salt, mean] of [
          [0, false],
          [1, true],
        ] as const) {
          for (const L of lengths) {
            const buf = inputOf(pg.rank, L, salt);
            const res = await pg.allReduce(buf, { op: mean ? 'mean' : 'sum' });
            if (res !== buf) throw new Error('allReduce must resolve to the buffer it was given');
            checkSum(pg, buf, L, mean, salt);
            hashes[`${mean ? 'mean' : 'sum'}:${L}`] = digest(buf);
          }
        }
        // Sync form, same data: must equal the async result bit for bit.
        const L = lengths[lengths.length - 1]!;
        const sbuf = inputOf(pg.rank, L, 0);
        pg.allReduceSync(sbuf);
        hashes[`sync:${L}`] = digest(sbuf);
        if (digest(sbuf) !== hashes[`sum:${L}`]) throw new Error('allReduceSync differs from allReduce');
        // Shared-memory buffers (no staging copy, SIMD reduce in the caller's memory) give the
        // same bits as ordinary ones; a caller's own SharedArrayBuffer too (plain JS adds).
        for (const make of [
          (n: number) => sharedFloat32Array(n),
          (n: number) => new Float32Array(new SharedArrayBuffer(n * 4)),
        ]) {
          const plain = inputOf(pg.rank, 300_001, 1);
          const shared = make(300_001);
          shared.set(plain);
          await pg.allReduce(plain, { op: 'mean' });
          await pg.allReduce(shared, { op: 'mean' });
          if (digest(shared) !== digest(plain)) throw new Error('shared-memory all-reduce differs from the plain one');
        }
        // broadcast from the last rank, three element types
        const root = pg.worldSize - 1;
        const f = pg.rank === root ? inputOf(99, 1234) : new Float32Array(1234);
        await pg.broadcast(f, root);
        if (digest(f) !== digest(inputOf(99, 1234))) throw new Error('Float32Array broadcast differs');
        const i32 = pg.rank === root ? Int32Array.from({ length: 77 }, (_, i) => i * 3 - 50) : new Int32Array(77);
        await pg.broadcast(i32, root);
        if (i32[76] !== 76 * 3 - 50) throw new Error('Int32Array broadcast differs');
        const u8 = pg.rank === 0 ? new Uint8Array(700_001).map((_, i) => i % 251) : new Uint8Array(700_001);
        await pg.broadcast(u8, 0);
        if (u8[700_000] !== 700_000 % 251) throw new Error('Uint8Array broadcast differs');
        // allGather
        const g = await pg.allGather(Float32Array.from({ length: 5 }, (_, i) => pg.rank * 10 + i));
        const want = Array.from({ length: pg.worldSize * 5 }, (_, j) => Math.floor(j / 5) * 10 + (j % 5));
        if (g.length !== want.length || want.some((v, j) => g[j] !== v))
          throw new Error(`allGather gave ${Array.from(g)}`);
        await pg.barrier();
        // objects with nested typed arrays, from a non-zero root
        const objRoot = pg.worldSize > 1 ? 1 : 0;
        const obj =
          pg.rank === objRoot
            ? {
                epoch: 3,
                stop: false,
                nested: { idx: Int32Array.from([5, 1, 4]), w: Float32Array.from([0.5, 2]) },
                s: 'ok',
              }
            : null;
        const got = await pg.broadcastObject(obj, objRoot);
        if (
          !got ||
          !(got.nested.idx instanceof Int32Array) ||
          got.nested.idx[2] !== 4 ||
          !(got.nested.w instanceof Float32Array) ||
          got.nested.w[0] !== 0.5 ||
          got.s !== 'ok'
        )
          throw new Error(`broadcastObject gave ${JSON.stringify(got)}`);
        const all = await pg.allGatherObject({ r: pg.rank, data: new Float64Array([pg.rank / 3]) });
        if (
          all.length !== pg.worldSize ||
          all.some((v, r) => v.r !== r || !(v.data instanceof Float64Array) || v.data[0] !== r / 3)
        )
          throw new Error('allGatherObject differs');
        // store
        const n = await pg.store.add('count', 1);
        await pg.barrier();
        if (pg.rank === 0) await pg.store.set('hello', 'world');
        const v = Buffer.from(await pg.store.get('hello')).toString();
        if (v !== 'world' || n < 1 || n > pg.worldSize) throw new Error(`store gave ${v} ${n}`);
        out.hashes = hashes;
        break;
      }
      case 'compressed': {
        // fp16 / bf16 on the wire: within 16-bit rounding of the float64 sum (one rounding per
        // hop), identical on every rank (the test compares the hashes), and really rounded.
        const hashes: Record<string, string> = {};
        for (const compression of ['fp16', 'bf16'] as const) {
          const unit = compression === 'fp16' ? 2 ** -11 : 2 ** -8;
          for (const L of (arg ?? '1,7,1000,300001').split(',').map(Number)) {
            for (const mean of [false, true]) {
              const buf = inputOf(pg.rank, L, 3);
              await pg.allReduce(buf, { op: mean ? 'mean' : 'sum', compression });
              const inputs = Array.from({ length: pg.worldSize }, (_, r) => inputOf(r, L, 3));
              for (let i = 0; i < L; i++) {
                const ref = inputs.reduce((acc, x) => acc + x[i]!, 0) / (mean ? pg.worldSize : 1);
                const mag = inputs.reduce((acc, x) => acc + Math.abs(x[i]!), 0) / (mean ? pg.worldSize : 1);
                if (Math.abs(buf[i]! - ref) > (pg.worldSize + 1) * unit * mag + 1e-6)
                  throw new Error(`${compression} element ${i} of ${L}: got ${buf[i]}, float64 ${ref}`);
              }
              const rounded = Float32Array.from(buf);
              const words = new Uint16Array(L);
              encode16(compression, rounded, words);
              decode16(compression, words, rounded);
              if (digest(rounded) !== digest(buf))
                throw new Error(`${compression} result of ${L} is not a 16-bit value`);
              hashes[`${compression}:${mean}:${L}`] = digest(buf);
            }
          }
        }
        out.hashes = hashes;
        break;
      }
      case 'reuse': {
        // The caller overwrites its buffer the moment an all-reduce returns (and starts the
        // next one at once): no rank may still be sending from it, or a peer gets NaNs.
        const hashes: Record<string, string> = {};
        for (const L of (arg ?? '70001,300001').split(',').map(Number)) {
          for (let i = 0; i < 6; i++) {
            const buf = i % 2 === 0 ? sharedFloat32Array(L) : new Float32Array(L);
            buf.set(inputOf(pg.rank, L, 10 + i));
            await pg.allReduce(buf, { op: i % 3 === 0 ? 'mean' : 'sum' });
            const result = buf.slice();
            buf.fill(NaN);
            checkSum(pg, result, L, i % 3 === 0, 10 + i);
            hashes[`${L}:${i}`] = digest(result);
          }
        }
        out.hashes = hashes;
        break;
      }
      case 'kill-mid': {
        // Everyone starts a 64 MB all-reduce; the victim is SIGKILLed by the test meanwhile.
        const buf = new Float32Array(16 * 1024 * 1024).fill(1);
        await pg.barrier();
        process.stdout.write('READY\n');
        const t0 = Date.now();
        try {
          // 'sync': the blocking form, the caller's thread asleep in Atomics.wait when the peer dies.
          if (arg === 'sync') for (;;) pg.allReduceSync(buf);
          // default: several collectives in flight at once; all of them must reject.
          for (;;) await Promise.all([pg.allReduce(buf), pg.allReduce(sharedFloat32Array(1000)), pg.barrier()]);
        } catch (e) {
          out.error = (e as Error).message;
          out.code = (e as { code?: string }).code;
          out.peerRank = (e as { peerRank?: number }).peerRank;
          out.failedAfterMs = Date.now() - t0;
        }
        // Future calls fail too, at once.
        try {
          await pg.barrier();
          out.later = 'no error';
        } catch (e) {
          out.later = (e as Error).message;
        }
        break;
      }
      case 'sleeper': {
        const sleepMs = Number(arg ?? 20000);
        // Rank 0 is both the broadcast root and the liveness hub: the hardest case (like
        // rank 0 validating for 30 minutes while the others wait in the broadcast).
        const sleeper = Number(process.env.TEST_SLEEPER ?? 0);
        const buf = pg.rank === 0 ? Float32Array.from([1, 2, 3]) : new Float32Array(3);
        if (pg.rank === sleeper) {
          // Busy the main thread (no event loop turns at all): the engine thread must keep heartbeating.
          const end = Date.now() + sleepMs;
          while (Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        }
        const t0 = Date.now();
        await pg.broadcast(buf, 0);
        out.waitedMs = Date.now() - t0;
        out.value = Array.from(buf);
        break;
      }
      case 'tfjs': {
        const tf = await import('@tensorflow/tfjs-core');
        await import('@tensorflow/tfjs-backend-cpu');
        await tf.setBackend('cpu');
        // A gradient function cannot await: it all-reduces its gradient synchronously.
        const f = tf.customGrad((x: unknown, save: unknown) => {
          const t = x as import('@tensorflow/tfjs-core').Tensor;
          (save as (ts: import('@tensorflow/tfjs-core').Tensor[]) => void)([t]);
          return {
            value: tf.sum(tf.square(t)),
            gradFunc: (dy: import('@tensorflow/tfjs-core').Tensor, saved: import('@tensorflow/tfjs-core').Tensor[]) => {
              const g = tf.mul(tf.mul(saved[0]!, 2), dy);
              const data = g.dataSync() as Float32Array;
              const red = pg.allReduceSync(Float32Array.from(data), { op: 'mean' });
              return tf.tensor(red, g.shape);
            },
          };
        });
        const x = tf.tensor1d([pg.rank + 1, 2 * (pg.rank + 1), 3]);
        const grad = tf.grad(
          (v: import('@tensorflow/tfjs-core').Tensor) => f(v) as import('@tensorflow/tfjs-core').Tensor,
        )(x);
        out.grad = Array.from(grad.dataSync());
        break;
      }
      case 'timeout': {
        // Rank 0 calls a collective that rank 1 never joins; only the optional hard timeout
        // (TEST_TIMEOUT_MS, passed as YOLO_COMM_OP_TIMEOUT_MS) can end it.
        if (pg.rank === 0) {
          try {
            await pg.allReduce(new Float32Array(10));
            out.outcome = 'completed';
          } catch (e) {
            out.outcome = (e as { code?: string }).code;
            out.error = (e as Error).message;
          }
        } else await new Promise((r) => setTimeout(r, 3000));
        break;
      }
      case 'no-destroy': {
        // The script ends (or dies of an uncaught error) without destroy(): the process must
        // still exit by itself with its own exit code, not abort.
        await pg.allReduce(new Float32Array(300_000).fill(1));
        await pg.barrier();
        process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
        if (arg === 'throw' && pg.rank === 1)
          setImmediate(() => {
            throw new Error('deliberate uncaught error');
          });
        return;
      }
      case 'overlapped': {
        // Collectives of both planes in flight at once, not awaited one by one: the native
        // plane must still put them on the wire in call order (a TS peer takes them in order).
        const big = new Float32Array(1_000_003).fill(pg.rank + 1);
        const small = new Float32Array(1000).fill(pg.rank + 1);
        const half = new Float32Array(300_001).fill(pg.rank + 1);
        const root = Float32Array.from([pg.rank === 0 ? 7 : 0, 8]);
        const [, , , ranks] = await Promise.all([
          pg.allReduce(big),
          pg.broadcast(root, 0),
          pg.allReduce(small, { op: 'mean' }),
          pg.allGatherObject(pg.rank),
          pg.allReduce(half, { compression: 'bf16' }),
          pg.barrier(),
        ]);
        out.values = [big[0], big[1_000_002], small[0], root[0], root[1], half[0], half[300_000], ...ranks];
        break;
      }
      case 'mismatch': {
        // Rank 0 broadcasts while the others all-reduce: a bug in the caller, named, not a hang.
        try {
          if (pg.rank === 0) await pg.broadcast(new Float32Array(1000).fill(1), 0);
          await pg.allReduce(new Float32Array(1000));
          out.outcome = 'completed';
        } catch (e) {
          out.outcome = (e as { code?: string }).code;
          out.error = (e as Error).message;
        }
        break;
      }
      case 'init-only': {
        await pg.barrier();
        break;
      }
      default:
        throw new Error(`unknown scenario ${scenario}`);
    }
  } catch (e) {
    await pg.destroy();
    throw e;
  }
  await pg.destroy();
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  const err = e as { message?: string; code?: string; peerRank?: number };
  process.stdout.write(
    `ERROR ${JSON.stringify({ message: err.message ?? String(e), code: err.code, peerRank: err.peerRank })}\n`,
  );
  process.exitCode = 1;
});
