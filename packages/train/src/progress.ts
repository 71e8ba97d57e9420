// train.py's progress bar: the header, one line per iteration on a terminal (overwritten
// with \r), and the epoch's last line in train.log (and on stdout when it is not a terminal).

import type { Batch } from './batches.js';
import type { TrainLog } from './log.js';
import { formatG, padLeft } from './results.js';

function progressHeader(): string {
  return ['Epoch', 'mem', 'box_loss', 'obj_loss', 'cls_loss', 'Instances', 'Size'].map((s) => padLeft(s, 11)).join('');
}

function progressLine(
  epoch: number,
  epochs: number,
  meanLoss: number[],
  instances: number,
  size: number,
  i: number,
  batchesPerEpoch: number,
  secs: number,
): string {
  const mem = `${formatG(process.memoryUsage().rss / 1e9, 3)}G`;
  const head = [`${epoch}/${epochs - 1}`, mem].map((s) => padLeft(s, 11)).join('');
  const nums = [...meanLoss, instances, size].map((v) => padLeft(formatG(v, 4), 11)).join('');
  const pct = Math.floor(((i + 1) / batchesPerEpoch) * 100);
  return `${head}${nums}: ${String(pct).padStart(3)}% ${i + 1}/${batchesPerEpoch} ${secs.toFixed(1)}s`;
}

/** One epoch's running mean losses [box, obj, cls] and its progress output (rank 0 prints). */
export class EpochProgress {
  /** Running mean of the iterations' loss items. */
  readonly meanLoss = [0, 0, 0];
  private lastInstances = 0;
  private lastSize: number;
  private readonly startedAt = Date.now();
  private readonly isTty = process.stdout.isTTY === true;

  constructor(
    private readonly epoch: number,
    private readonly epochs: number,
    private readonly batchesPerEpoch: number,
    imgsz: number,
    private readonly isMain: boolean,
    private readonly log: TrainLog,
  ) {
    this.lastSize = imgsz;
    if (isMain) log.info('\n' + progressHeader());
  }

  /** After iteration `i` with loss items `items` of `batch`. */
  update(i: number, items: Float32Array, batch: Batch): void {
    for (let k = 0; k < 3; k++) this.meanLoss[k] = (this.meanLoss[k]! * i + items[k]!) / (i + 1);
    this.lastInstances = batch.targets.length / 6;
    this.lastSize = batch.width;
    if (this.isMain && this.isTty) process.stdout.write('\r' + this.line(batch.targets.length / 6, batch.width, i));
  }

  /** The epoch's last line: in train.log (with the mean losses), and on stdout when not a terminal. */
  finish(): void {
    if (!this.isMain) return;
    if (this.isTty) process.stdout.write('\n');
    const line = this.line(this.lastInstances, this.lastSize, this.batchesPerEpoch - 1);
    this.log.record(line, {
      epoch: this.epoch,
      box_loss: this.meanLoss[0],
      obj_loss: this.meanLoss[1],
      cls_loss: this.meanLoss[2],
    });
    if (!this.isTty) process.stdout.write(line + '\n');
  }

  private line(instances: number, size: number, i: number): string {
    return progressLine(
      this.epoch,
      this.epochs,
      this.meanLoss,
      instances,
      size,
      i,
      this.batchesPerEpoch,
      (Date.now() - this.startedAt) / 1000,
    );
  }
}
