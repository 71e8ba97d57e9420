/**
 * Worker output: split into lines, prefixed with the rank on the console, copied complete into
 * one log file per rank (--log-dir), filtered for the console by --tee and
 * --local-ranks-filter, and the last lines kept for the failure report.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** torchrun's --tee values: 0 nothing, 1 stdout, 2 stderr, 3 both. */
export type TeeStreams = 0 | 1 | 2 | 3;

export interface RankOutputOptions {
  prefix: string;
  logFile?: string;
  appendLog: boolean;
  /** Which of the worker's streams reach the launcher's console. */
  tee: TeeStreams;
  /** False when --local-ranks-filter leaves this rank out of the console. */
  toConsole: boolean;
  stdout: Writable;
  stderr: Writable;
  tailLines: number;
}

const MAX_LINE = 64 * 1024;

/** Line splitter that survives chunks cut in the middle of a line or a UTF-8 character. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.onLine(this.pending.slice(0, nl).replace(/\r$/, ''));
      this.pending = this.pending.slice(nl + 1);
    }
    if (this.pending.length > MAX_LINE) {
      this.onLine(this.pending);
      this.pending = '';
    }
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '') this.onLine(this.pending);
    this.pending = '';
  }
}

export class RankOutput {
  private readonly log: WriteStream | undefined;
  private readonly tail: string[] = [];

  constructor(private readonly options: RankOutputOptions) {
    if (options.logFile) {
      mkdirSync(path.dirname(options.logFile), { recursive: true });
      this.log = createWriteStream(options.logFile, { flags: options.appendLog ? 'a' : 'w' });
      this.log.on('error', (err) =>
        options.stderr.write(`yolo-launch: cannot write ${options.logFile}: ${err.message}\n`),
      );
    }
  }

  /** Reads one of the worker's streams until it ends. */
  attach(stream: Readable, which: 'stdout' | 'stderr'): Promise<void> {
    const splitter = new LineSplitter((line) => this.line(line, which));
    return new Promise((resolve) => {
      stream.on('data', (chunk: Buffer) => splitter.push(chunk));
      stream.on('error', () => resolve());
      stream.on('close', () => {
        splitter.end();
        resolve();
      });
    });
  }

  /** A line written by the launcher into this rank's log (attempt markers). */
  note(text: string): void {
    this.log?.write(`${text}\n`);
  }

  lastLines(): string[] {
    return [...this.tail];
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.log ? this.log.end(() => resolve()) : resolve()));
  }

  private line(text: string, which: 'stdout' | 'stderr'): void {
    this.log?.write(`${text}\n`);
    this.tail.push(text);
    if (this.tail.length > this.options.tailLines) this.tail.shift();
    const bit = which === 'stdout' ? 1 : 2;
    if (this.options.toConsole && this.options.tee & bit) {
      (which === 'stdout' ? this.options.stdout : this.options.stderr).write(`${this.options.prefix}${text}\n`);
    }
  }
}
