// What the trainer says, and where.
//
// - <save_dir>/train.log: pino JSON lines from every rank (a `rank` field), written
//   synchronously so that a killed rank leaves its last words on disk.
// - The console: rank 0 (or the single process) prints YOLOv5's human lines (progress,
//   validation table); other ranks print only warnings and errors, prefixed by the launcher.
//   The console is plain text, the way YOLOv5 prints it; `YOLO_LOG_JSON=1` switches the
//   console to pino JSON instead (for log collectors).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { pino, destination, type Logger } from 'pino';

export class TrainLog {
  private file: Logger | null = null;
  private readonly jsonConsole: boolean;
  private readonly quiet: boolean;
  private readonly early: { level: 'info' | 'warn' | 'error'; msg: string; obj?: Record<string, unknown> }[] = [];

  /** `jsonConsole`: YOLO_LOG_JSON (train-env.ts), read by the caller. */
  constructor(
    readonly rank: number,
    { quiet = false, jsonConsole = false }: { quiet?: boolean; jsonConsole?: boolean } = {},
  ) {
    this.quiet = quiet;
    this.jsonConsole = jsonConsole;
  }

  /** True where YOLOv5 prints: RANK -1 or 0. */
  get isMain(): boolean {
    return this.rank <= 0;
  }

  /** Start the per-run log file; lines logged before are written to it first. */
  private fileDir = '';

  openFile(saveDir: string): void {
    if (this.file && this.fileDir === saveDir) return;
    this.fileDir = saveDir;
    fs.mkdirSync(saveDir, { recursive: true });
    const dest = destination({ dest: path.join(saveDir, 'train.log'), sync: true, append: true, mkdir: true });
    this.file = pino({ base: { rank: this.rank, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
    for (const e of this.early.splice(0)) this.file[e.level](e.obj ?? {}, e.msg);
  }

  private toFile(level: 'info' | 'warn' | 'error', msg: string, obj?: Record<string, unknown>): void {
    if (this.file) this.file[level](obj ?? {}, msg);
    else this.early.push({ level, msg, obj });
  }

  private toConsole(level: 'info' | 'warn' | 'error', msg: string, obj?: Record<string, unknown>): void {
    if (this.jsonConsole) {
      process.stdout.write(
        JSON.stringify({ level, rank: this.rank, time: new Date().toISOString(), msg, ...obj }) + '\n',
      );
      return;
    }
    if (level === 'info') process.stdout.write(msg + '\n');
    else process.stderr.write((this.rank >= 0 && !this.isMain ? `rank ${this.rank}: ` : '') + msg + '\n');
  }

  /** A YOLOv5 console line on the main rank; a structured record on every rank. */
  info(msg: string, obj?: Record<string, unknown>): void {
    this.toFile('info', msg, obj);
    if (this.isMain && !this.quiet) this.toConsole('info', msg, obj);
  }

  /** Structured record only (no console line). */
  record(msg: string, obj?: Record<string, unknown>): void {
    this.toFile('info', msg, obj);
  }

  warn(msg: string, obj?: Record<string, unknown>): void {
    this.toFile('warn', msg, obj);
    if (!this.quiet) this.toConsole('warn', `WARNING ⚠️ ${msg}`, obj);
  }

  error(msg: string, obj?: Record<string, unknown>): void {
    this.toFile('error', msg, obj);
    this.toConsole('error', msg, obj);
  }

  flush(): void {
    this.file?.flush?.();
  }
}

/** colorstr('bold', 'train: ') without the colours (they are stripped in log files anyway). */
export function prefix(name: string): string {
  return `${name}: `;
}
