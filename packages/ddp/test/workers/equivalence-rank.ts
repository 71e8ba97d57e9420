/**
 * One rank of the equivalence tests, run as a real process over the real comm:
 *   RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, YOLO_LAUNCH_TOKEN  (comm's environment)
 *   DDP_TEST_SCENARIOS  comma list of: plain, syncbn, bn, accum, big, uneven, kill, killsync
 *   DDP_TEST_OUT        where to write this rank's JSON result
 *   DDP_TEST_BATCH      global batch per step (default 8)
 *   DDP_TEST_BACKEND    cpu (default) or wasm
 * Every scenario trains the tiny net for a few SGD-momentum steps with DDP and records the
 * final weights; the test compares world sizes. On a collective error the rank writes the
 * error (code, peer rank, message) and exits 3.
 */
import { writeFileSync } from 'node:fs';
import { tf, initBackend } from '@yolo-launch/backend';
import { initProcessGroup, type ProcessGroup, type WireCompression } from '@yolo-launch/comm';
import {
  DistributedDataParallel,
  DistributedSampler,
  localMoments,
  syncBatchNormMoments,
  fingerprint,
} from '../../src/index.js';
import { batch, flatValues, makeTinyNet, range, type TinyNet } from './tiny-net.js';

const STEPS = 5;
const LR = 0.01;
const MOMENTUM = 0.9;

interface ScenarioResult {
  weights: number[];
  buffers?: number[];
  paramFingerprint?: string;
  bufferFingerprintBeforeSync?: string;
  bufferFingerprint?: string;
  steps?: number;
  samples?: number[];
}

async function train(
  pg: ProcessGroup,
  net: TinyNet,
  stepIndices: (step: number) => number[],
  steps: number,
  microSteps = 1,
): Promise<DistributedDataParallel> {
  const ddp = await DistributedDataParallel.create(pg, net.params, {
    buffers: net.buffers,
    checkReplicasEveryStep: true,
    // tiny buckets so that the tiny net exercises several buckets and the overlap pipeline
    bucketCapMb: 2048 / 2 ** 20,
    firstBucketCapMb: 256 / 2 ** 20,
    ...(process.env.DDP_TEST_GRAD_COMPRESSION
      ? { gradCompression: process.env.DDP_TEST_GRAD_COMPRESSION as WireCompression }
      : {}),
  });
  const opt = tf.train.momentum(LR, MOMENTUM);
  for (let s = 0; s < steps; s++) {
    for (let m = 0; m < microSteps; m++) {
      if (process.env.DDP_TEST_KILL_AT_STEP === String(s) && pg.rank === 1) process.kill(process.pid, 'SIGKILL');
      const { x, y } = batch(stepIndices(s * microSteps + m));
      // YOLOv5's convention (convention.ts): loss = per-image losses summed over the local batch,
      // times WORLD_SIZE; DDP averages.
      const { value, grads } = tf.variableGrads(() => tf.mul(net.loss(x, y), ddp.lossScale) as tf.Scalar, net.params);
      if (m < microSteps - 1) await ddp.noSync(() => ddp.reduceGradients(grads));
      else {
        // DDP_TEST_OVERLAP: hand the gradients over last layer first, as a layer-by-layer
        // backward produces them, so buckets start their all-reduce before step() is called.
        const hook = process.env.DDP_TEST_OVERLAP ? ddp.beginOverlappedReduction() : null;
        if (process.env.DDP_TEST_OVERLAP && !hook)
          throw new Error('beginOverlappedReduction returned null on a synchronising step');
        if (hook) for (const p of [...net.params].reverse()) hook(p.name, grads[p.name]!);
        await ddp.step(opt, grads);
      }
      tf.dispose([x, y, value, ...Object.values(grads)]);
    }
  }
  opt.dispose();
  return ddp;
}

let group: ProcessGroup | null = null;

async function main(): Promise<void> {
  await initBackend({ backend: process.env.DDP_TEST_BACKEND === 'wasm' ? 'wasm' : 'cpu' });
  const pg = await initProcessGroup();
  group = pg;
  const { rank, worldSize: world } = pg;
  const B = Number(process.env.DDP_TEST_BATCH ?? 8);
  const per = B / world;
  if (!Number.isInteger(per)) throw new Error(`batch ${B} does not divide by world size ${world}`);
  const out: Record<string, ScenarioResult> = {};
  const scenarios = (process.env.DDP_TEST_SCENARIOS ?? 'plain').split(',');
  // rank r starts from different weights (seed 100 r): DDP must broadcast rank 0's.
  const seed = 100 * rank;
  // global batch of step s: samples [s B, (s+1) B); rank r takes its contiguous B/N slice
  const shard = (s: number) => range(s * B + rank * per, per);
  for (const name of scenarios) {
    switch (name) {
      case 'plain':
      case 'kill': {
        const net = makeTinyNet(null, seed, name);
        await train(pg, net, shard, STEPS);
        out[name] = { weights: flatValues(net.params) };
        break;
      }
      case 'killsync': {
        // rank 1 dies before a forward: the others are blocked in SyncBN's allReduceSync
        const net = makeTinyNet(syncBatchNormMoments(pg), seed, name);
        await train(pg, net, shard, STEPS);
        out[name] = { weights: flatValues(net.params) };
        break;
      }
      case 'syncbn': {
        // world 1 reference uses plain local moments: SyncBN must reproduce single-process BN
        const net = makeTinyNet(world === 1 ? localMoments : syncBatchNormMoments(pg), seed, name);
        const ddp = await train(pg, net, shard, STEPS);
        await ddp.verifyReplicas(true); // SyncBN buffers are identical without any sync
        out[name] = { weights: flatValues(net.params), buffers: flatValues(net.buffers) };
        break;
      }
      case 'bn': {
        const net = makeTinyNet(localMoments, seed, name);
        const ddp = await train(pg, net, shard, STEPS);
        const before = fingerprint(Float32Array.from(flatValues(net.buffers)));
        await ddp.syncBuffers('broadcast');
        await ddp.verifyReplicas(true);
        out[name] = {
          weights: flatValues(net.params),
          paramFingerprint: fingerprint(Float32Array.from(flatValues(net.params))),
          bufferFingerprintBeforeSync: before,
          bufferFingerprint: fingerprint(Float32Array.from(flatValues(net.buffers))),
        };
        break;
      }
      case 'accum': {
        // 4 micro-steps of B per step (B/N per rank), noSync on the first 3, one optimizer step
        const net = makeTinyNet(null, seed, name);
        await train(pg, net, shard, 1, 4);
        out[name] = { weights: flatValues(net.params) };
        break;
      }
      case 'big': {
        // reference for accum: one step on the 4x batch (world 1 only)
        const net = makeTinyNet(null, seed, name);
        await train(pg, net, () => range(0, 4 * B), 1, 1);
        out[name] = { weights: flatValues(net.params) };
        break;
      }
      case 'uneven': {
        // 13 samples, 2 per rank per batch: every rank must run the same number of steps
        const sampler = new DistributedSampler({ datasetSize: 13, numReplicas: world, rank, seed: 1 });
        sampler.setEpoch(1);
        const batches = sampler.batches(2);
        const net = makeTinyNet(null, seed, name);
        await train(pg, net, (s) => batches[s]!, batches.length);
        out[name] = { weights: flatValues(net.params), steps: batches.length, samples: batches.flat() };
        break;
      }
      default:
        throw new Error(`unknown scenario '${name}'`);
    }
  }
  writeFileSync(process.env.DDP_TEST_OUT!, JSON.stringify({ rank, world, scenarios: out }));
  group = null;
  await pg.destroy();
}

// Only run when spawned by the tests (a bare `node --test dist/test/` would import this file).
if (process.env.DDP_TEST_OUT)
  main().catch((err: unknown) => {
    const e = err as { code?: string; peerRank?: number; message?: string };
    const report = { error: { code: e.code, peerRank: e.peerRank, message: e.message ?? String(err) } };
    if (process.env.DDP_TEST_OUT) writeFileSync(process.env.DDP_TEST_OUT, JSON.stringify(report));
    console.error(err);
    // close the group's sockets before exiting (bounded: a broken group must not keep us alive)
    const closing = group ? group.destroy().catch(() => undefined) : Promise.resolve();
    void Promise.race([closing, new Promise((r) => setTimeout(r, 3000))]).then(() => process.exit(3));
  });
