// The promise that lets a caller overwrite its buffer the moment allReduce returns, checked
// without a race: the ranks' rings run in this process over in-memory links that keep every
// sent Buffer by reference, as zeromq does until its I/O thread has written it. The link out
// of rank 0 delivers one message at a time, only when rank 0 cannot go on without it, so
// rank 0 returns with its last sends still queued. Rank 0 then overwrites its buffer with
// NaN and the queued messages are delivered: a send that still points into the caller's
// memory (a zero-copy view of the owner's final sum instead of the owner scratch) reaches
// the next rank as NaN. (collectives.test.ts checks the same across processes, where the
// window is a race and often missed.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ring, type RingInput, type RingOutput } from '../src/ring.js';
import { sharedFloat32Array } from '../src/index.js';

/** One direction of the ring: what rank r sent, kept by reference until delivered to rank r+1. */
class Link implements RingInput, RingOutput {
  readonly queued: Buffer[][] = [];
  private readonly waiting: ((frames: Buffer[]) => void)[] = [];
  /** false: messages wait in `queued` until deliverOne(). */
  constructor(public eager: boolean) {}

  send(frames: Buffer[]): Promise<void> {
    this.queued.push(frames);
    if (this.eager) this.deliverAll();
    return Promise.resolve();
  }

  receive(): Promise<Buffer[]> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.eager) this.deliverAll();
    });
  }

  /** Hands the oldest queued message to the receiver if it is waiting for one. */
  deliverOne(): boolean {
    if (this.queued.length === 0 || this.waiting.length === 0) return false;
    this.waiting.shift()!(this.queued.shift()!);
    return true;
  }

  deliverAll(): void {
    while (this.deliverOne());
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

for (const world of [2, 3]) {
  test(`world ${world}: an all-reduce that returns with its sends still queued leaves no send pointing into the caller's buffer`, async () => {
    const L = 300_001; // several segments per chunk
    const sizes = { segmentBytes: 64 * 1024, minSegmentBytes: 64 * 1024, smallAllReduceMaxBytes: 64 * 1024 };
    // links[r]: rank r -> rank r+1; only rank 0's output is held back.
    const links = Array.from({ length: world }, (_, r) => new Link(r !== 0));
    const rings = links.map((out, r) => new Ring(r, world, 7, sizes, links[(r - 1 + world) % world]!, out));
    const data = rings.map((_, r) => {
      const d = sharedFloat32Array(L);
      for (let i = 0; i < L; i++) d[i] = ((i % 97) + r) / 8;
      return d;
    });
    const done = rings.map(() => false);
    const runs = rings.map((ring, r) =>
      ring.allReduce(1, data[r]!, false).then(() => {
        done[r] = true;
        if (r === 0) data[0]!.fill(NaN); // the caller reuses its buffer at once
      }),
    );
    // Rank 0's messages go out one by one, only while rank 0 is still running.
    while (!done[0]) {
      links[0]!.deliverOne();
      await turn();
    }
    assert.ok(links[0]!.queued.length > 0, 'rank 0 returned with nothing queued: the check would prove nothing');
    while (!done.every(Boolean)) {
      links[0]!.deliverAll();
      await turn();
    }
    await Promise.all(runs);
    for (let r = 1; r < world; r++)
      for (let i = 0; i < L; i += 997) {
        let want = 0;
        for (let q = 0; q < world; q++) want += ((i % 97) + q) / 8;
        assert.equal(data[r]![i], want, `rank ${r} element ${i}`);
      }
    for (const ring of rings) ring.close();
  });
}
