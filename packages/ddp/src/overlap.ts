/**
 * All-reduce overlapped with the backward pass (torch DDP's autograd hooks): the trainer hands
 * each gradient over as soon as its layer's backward produced it (last layer first, the order
 * the bucket plan packs them in); when a bucket is complete its all-reduce starts at once and
 * runs in comm's engine thread while the main thread computes the backward of earlier layers.
 *
 * Buckets are issued strictly in plan order (bucket i only after 0..i-1), so every rank issues
 * the same all-reduces in the same order whatever its timing: a bucket that completes early
 * waits for its predecessors. Gradients accumulated under noSync are added on the way in.
 */
import { tf } from '@yolo-launch/backend';
import type { Bucket, BucketEntry } from './buckets.js';
import { copyTensorInto } from './host-view.js';

export class BucketFiller {
  private readonly where = new Map<string, { bucket: number; entry: BucketEntry }>();
  private readonly missing: number[];
  private readonly filled = new Set<string>();
  private readonly inFlight: Promise<Float32Array>[] = [];

  constructor(
    private readonly buckets: readonly Bucket[],
    private readonly hostBuffers: readonly Float32Array[],
    /** Starts the all-reduce of bucket i (its host buffer is complete). */
    private readonly start: (i: number) => Promise<Float32Array>,
    /** Gradients accumulated under noSync, added to the incoming ones (not disposed here). */
    private readonly accumulated: ReadonlyMap<string, tf.Tensor> | null,
  ) {
    buckets.forEach((b, i) => b.entries.forEach((entry) => this.where.set(entry.name, { bucket: i, entry })));
    this.missing = buckets.map((b) => b.entries.length);
  }

  /** True when `name` is a parameter here whose gradient has not been handed over yet. */
  wants(name: string): boolean {
    return this.where.has(name) && !this.filled.has(name);
  }

  /** One parameter's gradient (not disposed here); starts every all-reduce that became ready. */
  add(name: string, grad: tf.Tensor): void {
    const at = this.where.get(name);
    if (!at) throw new Error(`gradient for '${name}', which is not a parameter of this DistributedDataParallel`);
    if (this.filled.has(name)) throw new Error(`gradient for '${name}' was handed over twice in one backward`);
    if (grad.size !== at.entry.size)
      throw new Error(`gradient for '${name}' has ${grad.size} elements, the parameter ${at.entry.size}`);
    const acc = this.accumulated?.get(name);
    const total = acc ? tf.add(acc, grad) : grad;
    try {
      copyTensorInto(total, this.hostBuffers[at.bucket]!, at.entry.offset);
    } finally {
      if (total !== grad) total.dispose();
    }
    this.filled.add(name);
    this.missing[at.bucket]!--;
    this.issueReady();
  }

  /**
   * Fills what the backward did not hand over (from `grads`, else accumulated, else zeros),
   * starts the remaining all-reduces and returns one promise per bucket, in plan order.
   */
  finish(grads: tf.NamedTensorMap): Promise<Float32Array>[] {
    this.buckets.forEach((b, i) => {
      for (const e of b.entries) {
        if (this.filled.has(e.name)) continue;
        const g = grads[e.name];
        if (g) this.add(e.name, g);
        else {
          const acc = this.accumulated?.get(e.name);
          if (acc) copyTensorInto(acc, this.hostBuffers[i]!, e.offset);
          else this.hostBuffers[i]!.fill(0, e.offset, e.offset + e.size);
          this.filled.add(e.name);
          this.missing[i]!--;
        }
      }
    });
    this.issueReady();
    return this.inFlight;
  }

  private issueReady(): void {
    while (this.inFlight.length < this.buckets.length && this.missing[this.inFlight.length] === 0) {
      const p = this.start(this.inFlight.length);
      p.catch(() => undefined); // awaited by finish()'s caller; an early failure must not crash the process
      this.inFlight.push(p);
    }
  }
}
