// A real all-reduce through @yolo-launch/comm across every rank the launcher started:
// each rank contributes [rank+1, 2*(rank+1), ...] and prints "ALLREDUCE rank=R sum=[...]".
if (process.env.RANK === undefined) process.exit(0); // run directly (node --test runs every file)

interface Group {
  rank: number;
  worldSize: number;
  allReduce(buf: Float32Array, options?: { op?: 'sum' | 'mean' }): Promise<Float32Array>;
  destroy(): Promise<void>;
}
const comm = (await import('@yolo-launch/comm')) as unknown as { initProcessGroup?: (o?: object) => Promise<Group> };
if (typeof comm.initProcessGroup !== 'function') {
  process.stderr.write('@yolo-launch/comm has no initProcessGroup yet\n');
  process.exit(3);
}
const group = await comm.initProcessGroup({ rendezvousTimeoutMs: 30_000 });
const n = 1000;
const buf = new Float32Array(n);
for (let i = 0; i < n; i++) buf[i] = (group.rank + 1) * (i + 1);
const sum = await group.allReduce(buf, { op: 'sum' });
process.stdout.write(
  `ALLREDUCE rank=${group.rank} world=${group.worldSize} head=${JSON.stringify(Array.from(sum.slice(0, 3)))} last=${sum[n - 1]}\n`,
);
await group.destroy();
