// In-process checks of the pieces that need no peers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import {
  CommError,
  canConnect,
  getFreePort,
  initProcessGroup,
  isPortFree,
  resolveOptions,
  sharedFloat32Array,
} from '../src/index.js';
import { decode16, encode16, f32BitsToBf16, f32BitsToF16 } from '../src/half.js';
import { addDivInto, addInto } from '../src/reduce.js';
import { KeyValueStore } from '../src/store.js';
import { HEADER_BYTES, readHeader, writeHeader } from '../src/wire.js';

test('options come from the environment, explicit options win, bad values are named', () => {
  const env = {
    RANK: '2',
    WORLD_SIZE: '4',
    MASTER_ADDR: 'h',
    MASTER_PORT: '1234',
    YOLO_LAUNCH_TOKEN: 't',
    YOLO_SOCKET_IFNAME: 'eth0',
  };
  const o = resolveOptions({}, env);
  assert.deepEqual(
    [o.rank, o.worldSize, o.masterAddr, o.masterPort, o.token, o.socketIfname, o.timeoutMs],
    [2, 4, 'h', 1234, 't', 'eth0', undefined],
  );
  assert.equal(resolveOptions({ rank: 1 }, env).rank, 1);
  assert.equal(resolveOptions({}, {}).worldSize, 1, 'no RANK/WORLD_SIZE: a world of one');
  assert.throws(() => resolveOptions({}, { ...env, RANK: 'x' }), /RANK="x" is not an integer/);
  assert.throws(() => resolveOptions({}, { ...env, RANK: '4' }), /RANK 4 is outside 0..3/);
  assert.throws(() => resolveOptions({}, { WORLD_SIZE: '2' }), /RANK is not set/);
  assert.throws(() => resolveOptions({}, { ...env, YOLO_COMM_TRANSPORT: 'udp' }), /auto, tcp or ipc/);
  assert.equal(resolveOptions({}, { ...env, YOLO_COMM_OP_TIMEOUT_MS: '5000' }).timeoutMs, 5000);
  // The tuning knobs: defaults, environment, option over environment, refusals.
  assert.deepEqual([o.minSegmentBytes, o.smallAllReduceMaxBytes, o.socketBufferBytes], [512 * 1024, 64 * 1024, 0]);
  const tuned = { ...env, YOLO_COMM_MIN_SEGMENT: '65536', YOLO_COMM_SMALL_MAX: '0', YOLO_COMM_SOCKBUF: '4194304' };
  const t = resolveOptions({}, tuned);
  assert.deepEqual([t.minSegmentBytes, t.smallAllReduceMaxBytes, t.socketBufferBytes], [65536, 0, 4194304]);
  assert.equal(resolveOptions({ minSegmentBytes: 4096 }, tuned).minSegmentBytes, 4096);
  assert.throws(() => resolveOptions({}, { ...env, YOLO_COMM_MIN_SEGMENT: '1000001' }), /YOLO_COMM_MIN_SEGMENT/);
  assert.throws(() => resolveOptions({}, { ...env, YOLO_COMM_SMALL_MAX: '64k' }), /YOLO_COMM_SMALL_MAX="64k"/);
  assert.throws(() => resolveOptions({}, { ...env, YOLO_COMM_SOCKBUF: '-1' }), /YOLO_COMM_SOCKBUF/);
});

test('store: set/get/add/wait with get and wait blocking until the key exists', () => {
  const s = new KeyValueStore();
  const log: string[] = [] as string[];
  s.handle({ op: 'get', key: 'a' }, (r) => log.push(`get ${Buffer.from(r.value!).toString()}`));
  s.handle({ op: 'wait', keys: ['a', 'n'] }, () => log.push('wait'));
  assert.equal(log.length, 0);
  s.handle({ op: 'set', key: 'a', value: Buffer.from('x') }, () => log.push('set'));
  s.handle({ op: 'add', key: 'n', delta: 5 }, (r) => log.push(`add ${r.num}`));
  s.handle({ op: 'add', key: 'n', delta: -2 }, (r) => log.push(`add ${r.num}`));
  assert.deepEqual(log, ['set', 'get x', 'add 5', 'wait', 'add 3']);
});

test('reduction loops: sums and means in float32', () => {
  const a = Float32Array.from([1, 2, 3, 4, 5, 0.1]);
  const b = Float32Array.from([10, 20, 30, 40, 50, 0.2]);
  const out = new Float32Array(6);
  addInto(out, a, b);
  assert.deepEqual(Array.from(out), [11, 22, 33, 44, 55, Math.fround(Math.fround(0.1) + Math.fround(0.2))]);
  addDivInto(out, a, b, 3);
  assert.equal(out[5], Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) / 3));
});

test('fp16 / bf16 wire formats: round to nearest even, specials kept, every 16-bit value round-trips', () => {
  const bits = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0]!;
  const f16 = (x: number): number => f32BitsToF16(bits(x));
  assert.equal(f16(1), 0x3c00);
  assert.equal(f16(-2), 0xc000);
  assert.equal(f16(65504), 0x7bff); // largest half
  assert.equal(f16(65520), 0x7c00); // halfway to the next binade: ties to even = inf
  assert.equal(f16(65519), 0x7bff);
  assert.equal(f16(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f16(2 ** -25), 0x0000); // tie between 0 and 2^-24: even is 0
  assert.equal(f16(3 * 2 ** -25), 0x0002); // tie between 1 and 2 subnormal units: even is 2
  assert.equal(f16(1 + 2 ** -11), 0x3c00); // tie: even mantissa
  assert.equal(f16(1 + 3 * 2 ** -11), 0x3c02); // tie: rounds up to even
  assert.equal(f16(-0), 0x8000);
  assert.equal(f16(Infinity), 0x7c00);
  assert.equal(f16(NaN) & 0x7e00, 0x7e00);
  const bf = (x: number): number => f32BitsToBf16(bits(x));
  assert.equal(bf(1), 0x3f80);
  assert.equal(bf(1 + 2 ** -8), 0x3f80); // tie: even
  assert.equal(bf(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(bf(-Infinity), 0xff80);
  assert.equal(bf(NaN) & 0x7fc0, 0x7fc0);
  for (const kind of ['fp16', 'bf16'] as const) {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const decoded = new Float32Array(65536);
    decode16(kind, all, decoded);
    const again = new Uint16Array(65536);
    encode16(kind, decoded, again);
    for (let h = 0; h < 65536; h++)
      if (!Number.isNaN(decoded[h])) assert.equal(again[h], h, `${kind} 0x${h.toString(16)} does not round-trip`);
  }
});

test('data frame header round-trips', () => {
  const h = { session: 0xdeadbeef, seq: 7, kind: 2, step: 3, index: 9, origin: 4, total: 1 << 30, offset: 12345 };
  const b = writeHeader(h);
  assert.equal(b.length, HEADER_BYTES);
  assert.deepEqual(readHeader(b), h);
});

test('port helpers: free port, busy port, reachability', async () => {
  const port = await getFreePort();
  assert.equal(await isPortFree(port), true);
  const srv = net.createServer().listen(port, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  try {
    assert.equal(await isPortFree(port), false);
    assert.equal(await canConnect('127.0.0.1', port), true);
  } finally {
    await new Promise((r) => srv.close(r));
  }
  assert.equal(await canConnect('127.0.0.1', port, 500), false);
});

test('a world of one works in-process and destroy() leaves nothing running', async () => {
  const pg = await initProcessGroup({ rank: 0, worldSize: 1, masterPort: 0, log: false });
  const a = Float32Array.from([1, 2, 3]);
  assert.deepEqual(Array.from(await pg.allReduce(a, { op: 'mean' })), [1, 2, 3]);
  assert.deepEqual(Array.from(pg.allReduceSync(sharedFloat32Array(2).fill(4))), [4, 4]);
  assert.deepEqual(Array.from(await pg.allGather(a)), [1, 2, 3]);
  assert.deepEqual(await pg.broadcastObject({ x: new Int32Array([1]) }, 0), { x: new Int32Array([1]) });
  assert.deepEqual(await pg.allGatherObject('me'), ['me']);
  await pg.barrier();
  assert.equal(await pg.store.add('k', 3), 3);
  await assert.rejects(pg.broadcast(a, 1), /root 1 is not a rank/);
  await pg.destroy();
  await assert.rejects(pg.barrier(), (e: unknown) => e instanceof CommError && e.code === 'DESTROYED');
  assert.throws(() => pg.allReduceSync(a), /destroyed/);
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })
    ._getActiveHandles()
    .filter((h) => !(h instanceof net.Socket && ((h as { fd?: number }).fd ?? 3) <= 2));
  assert.equal(handles.length, 0, `handles left: ${handles.map((h) => (h as object).constructor.name).join(', ')}`);
});
