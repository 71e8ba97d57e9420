// A TensorBoard SummaryWriter: one `events.out.tfevents.<seconds>.<host>.<pid>.<n>` file per
// writer in `logDir`, the name and first event (file_version "brain.Event:2") as TensorBoard's
// own EventFileWriter makes them, then scalar and image summaries.
//
// Events are buffered and appended at flush() with one write and an fsync, so what is on
// disk is always a sequence of whole records (at most the last one cut by a crash, which
// readers treat as not yet written). The file is appended to, never replaced, because a
// running TensorBoard keeps reading the file it opened.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeEvent, type EventMessage, type SummaryImage } from './proto.js';
import { frameRecord } from './record.js';

export const FILE_VERSION = 'brain.Event:2';

/** TensorBoard's per-process counter that keeps two writers' file names apart. */
let writerCount = 0;

export interface SummaryWriterOptions {
  /** wall clock in ms (tests pin it); default Date.now */
  now?: () => number;
  hostname?: string;
  pid?: number;
}

export class SummaryWriter {
  readonly file: string;
  private readonly fd: number;
  private readonly now: () => number;
  private pending: Buffer[] = [];
  private closed = false;

  constructor(logDir: string, options: SummaryWriterOptions = {}) {
    this.now = options.now ?? Date.now;
    fs.mkdirSync(logDir, { recursive: true });
    const seconds = String(Math.floor(this.now() / 1000)).padStart(10, '0');
    const name = `events.out.tfevents.${seconds}.${options.hostname ?? os.hostname()}.${options.pid ?? process.pid}.${writerCount++}`;
    this.file = path.join(logDir, name);
    this.fd = fs.openSync(this.file, 'a');
    this.add({ wall_time: this.wallTime(), step: 0, file_version: FILE_VERSION });
    this.flush();
  }

  /** A scalar (Summary.Value.simple_value, float32) under `tag` at `step`. */
  addScalar(tag: string, value: number, step: number): void {
    this.addSummary({ tag, simple_value: value }, step);
  }

  /** Several scalars at one step, one event each (as torch's SummaryWriter.add_scalar calls). */
  addScalars(values: Readonly<Record<string, number>>, step: number): void {
    for (const [tag, value] of Object.entries(values)) this.addScalar(tag, value, step);
  }

  /** An encoded image (see image.ts) under `tag` at `step`. */
  addImage(tag: string, image: SummaryImage, step: number): void {
    this.addSummary({ tag, image }, step);
  }

  /** Appends the buffered events with one write, then fsyncs. */
  flush(): void {
    this.assertOpen();
    if (this.pending.length === 0) return;
    const bytes = Buffer.concat(this.pending);
    this.pending = [];
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(this.fd, bytes, written, bytes.length - written);
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    fs.closeSync(this.fd);
    this.closed = true;
  }

  private addSummary(
    value: { tag: string; simple_value: number } | { tag: string; image: SummaryImage },
    step: number,
  ): void {
    this.assertOpen();
    if (!Number.isSafeInteger(step) || step < 0)
      throw new RangeError(`TensorBoard step must be a non-negative integer, got ${step}`);
    this.add({ wall_time: this.wallTime(), step, summary: { value: [value] } });
  }

  private add(event: EventMessage): void {
    this.pending.push(frameRecord(encodeEvent(event)));
  }

  private wallTime(): number {
    return this.now() / 1000;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`TensorBoard writer for ${this.file} is closed`);
  }
}
