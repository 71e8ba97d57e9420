// One rank of the all-reduce benchmark. Barrier-synchronised timing: every iteration starts
// with a barrier, each rank times its own all-reduce, and rank 0 reports the maximum over
// ranks per iteration (the time the slowest rank saw), as the gloo reference figures do.
import { initProcessGroup, sharedFloat32Array, type WireCompression } from '../src/index.js';
import { describeDelta, sampleProc, type ProcSample } from './proc-sample.js';

interface Plan {
  sizes: number[]; // bytes
  shared: boolean; // SharedArrayBuffer-backed buffers (no staging copies)
  latencyIters: number;
  /** Iterations per size; default by size (itersFor). */
  iters?: number;
  /** All-reduce with 16-bit values on the wire. */
  compression?: WireCompression;
}

const plan = JSON.parse(process.env.BENCH_PLAN ?? '{}') as Plan;

function itersFor(bytes: number): number {
  if (bytes <= 64 * 1024) return 200;
  if (bytes <= 1 << 20) return 50;
  if (bytes <= 64 << 20) return 15;
  return 10;
}

/** BENCH_THREADS=1: per size, where this rank's CPU went (threads, page faults, switches). */
const threadReport = Boolean(process.env.BENCH_THREADS);

async function main(): Promise<void> {
  const pg = await initProcessGroup({ log: false });
  const out: Record<string, number[]> = {};
  for (const bytes of plan.sizes) {
    const n = bytes / 4;
    const buf = plan.shared ? sharedFloat32Array(n) : new Float32Array(n);
    buf.fill(1 / pg.worldSize);
    const iters = plan.iters ?? itersFor(bytes);
    const times: number[] = [];
    let cpu0 = process.cpuUsage();
    let proc0: ProcSample | undefined;
    for (let i = 0; i < 3 + iters; i++) {
      if (i === 3) {
        cpu0 = process.cpuUsage();
        if (threadReport) proc0 = sampleProc();
      }
      await pg.barrier();
      const t0 = process.hrtime.bigint();
      await pg.allReduce(buf, { compression: plan.compression });
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      if (i >= 3) times.push(dt);
    }
    out[`allreduce:${bytes}`] = times;
    const cpu = process.cpuUsage(cpu0);
    // CPU time of this whole process (all threads) per all-reduce: robust on a busy machine.
    out[`cpu:${bytes}`] = [(cpu.user + cpu.system) / 1e3 / iters];
    if (proc0) process.stderr.write(`rank ${pg.rank} ${bytes} B: ${describeDelta(proc0, sampleProc(), iters)}\n`);
  }
  // barrier latency
  const bt: number[] = [];
  for (let i = 0; i < 3 + plan.latencyIters; i++) {
    const t0 = process.hrtime.bigint();
    await pg.barrier();
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 3) bt.push(dt);
  }
  out.barrier = bt;
  // the same small all-reduce through the blocking form
  const sbuf = plan.shared ? sharedFloat32Array(1024) : new Float32Array(1024);
  const st: number[] = [];
  for (let i = 0; i < 3 + plan.latencyIters; i++) {
    await pg.barrier();
    const t0 = process.hrtime.bigint();
    pg.allReduceSync(sbuf);
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 3) st.push(dt);
  }
  out['allreduceSync:4096'] = st;
  const all = await pg.allGatherObject(out);
  if (pg.rank === 0) {
    const maxed: Record<string, number[]> = {};
    for (const key of Object.keys(out)) maxed[key] = out[key]!.map((_, i) => Math.max(...all.map((o) => o[key]![i]!)));
    const transport = `${pg.info.transport}${pg.info.nativePlane === null ? '' : '+native'}`;
    process.stdout.write(`BENCH ${JSON.stringify({ transport, times: maxed })}\n`);
  }
  await pg.destroy();
}

main().catch((e: unknown) => {
  process.stderr.write(`bench rank failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
