// The TensorBoard part of YOLOv5's Loggers (utils/loggers/__init__.py), on rank 0:
// - created unless --evolve (as YOLOv5) or --notensorboard, with YOLOv5's start line;
// - per epoch: the 13 results.csv values under results.csv's names (`train/box_loss`,
//   `metrics/mAP_0.5`, `x/lr0`, ...) at step = epoch, then a flush;
// - images: the plot files the run already made, tagged by file stem (`results`,
//   `confusion_matrix`, `PR_curve`, `labels`, `train_batch0`, `val_batch0_pred`, ...);
//   with --noplots there are no plot files, so scalars only (as YOLOv5).
// TensorBoard is a view of the run, not the run: a failed write is reported once and
// logging stops, training goes on.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { RESULT_KEYS } from '../results.js';
import { SummaryWriter } from './writer.js';
import { summaryImageFromFile } from './image.js';

/** What the run has drawn by the end of epoch 0: labels.jpg (setup) and train_batch0..2.jpg. */
export function trainingPlotFiles(saveDir: string): string[] {
  return ['labels.jpg', 'train_batch0.jpg', 'train_batch1.jpg', 'train_batch2.jpg'].map((f) => path.join(saveDir, f));
}

/** YOLOv5's on_train_end images, then our final validation batches (labels and predictions). */
export function finalPlotFiles(saveDir: string): string[] {
  const yolov5 = ['results.png', 'confusion_matrix.png', ...['F1', 'PR', 'P', 'R'].map((c) => `${c}_curve.png`)];
  const batches = [0, 1, 2].flatMap((i) => [`val_batch${i}_labels.jpg`, `val_batch${i}_pred.jpg`]);
  return [...yolov5, ...batches].map((f) => path.join(saveDir, f));
}

export interface TensorBoardLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface TensorBoardOptions {
  saveDir: string;
  evolve: boolean;
  /** --notensorboard */
  disabled: boolean;
  log: TensorBoardLog;
}

export class TrainTensorBoard {
  private writer: SummaryWriter | null;

  private constructor(
    writer: SummaryWriter,
    private readonly log: TensorBoardLog,
  ) {
    this.writer = writer;
  }

  /** The run's writer, or null where YOLOv5 would have none (or --notensorboard). */
  static open(opts: TensorBoardOptions): TrainTensorBoard | null {
    if (opts.evolve || opts.disabled) return null;
    try {
      const writer = new SummaryWriter(opts.saveDir);
      opts.log.info(
        `TensorBoard: Start with 'tensorboard --logdir ${path.dirname(opts.saveDir)}', view at http://localhost:6006/`,
      );
      return new TrainTensorBoard(writer, opts.log);
    } catch (error) {
      opts.log.warn(
        `TensorBoard: not logging, cannot create an event file in ${opts.saveDir}: ${(error as Error).message}`,
      );
      return null;
    }
  }

  get file(): string | null {
    return this.writer?.file ?? null;
  }

  /** One epoch's results.csv values (RESULT_KEYS order), flushed to disk. */
  epoch(values: readonly number[], epoch: number): void {
    if (values.length !== RESULT_KEYS.length)
      throw new Error(`TensorBoard epoch needs ${RESULT_KEYS.length} values, got ${values.length}`);
    this.guard(() => {
      RESULT_KEYS.forEach((key, i) => this.writer!.addScalar(key, values[i]!, epoch));
      this.writer!.flush();
    });
  }

  /** The files among `files` that exist, as images tagged by their stem, flushed. */
  async images(files: readonly string[], step: number): Promise<void> {
    for (const file of files) {
      if (!this.writer || !fs.existsSync(file)) continue;
      try {
        const image = await summaryImageFromFile(file);
        this.guard(() => this.writer!.addImage(path.parse(file).name, image, step));
      } catch (error) {
        this.log.warn(`TensorBoard: ${path.basename(file)} not logged: ${(error as Error).message}`);
      }
    }
    this.guard(() => this.writer!.flush());
  }

  close(): void {
    this.guard(() => this.writer!.close());
    this.writer = null;
  }

  private guard(write: () => void): void {
    if (!this.writer) return;
    try {
      write();
    } catch (error) {
      this.log.warn(`TensorBoard: logging stopped, writing ${this.writer.file} failed: ${(error as Error).message}`);
      this.writer = null;
    }
  }
}
