// YOLOv6's late-epoch controls: which epochs are validated, when mosaic closes, which epoch<N>.pt
// files are kept, how early stopping and best.pt count validated epochs only, and the options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, defaultOptions, parseTrainArgs, validateStatic } from '../src/options.js';
import { evalEpochs, evalScheduleOf, needsValidation, describeEvalSchedule } from '../src/eval-schedule.js';
import { mosaicClosed, mosaicClosingLine } from '../src/aug-schedule.js';
import { keepsEpochCheckpoint } from '../src/train-checkpoint.js';
import { EarlyStopping } from '../src/early-stopping.js';
import { NO_METRICS, judgeEpoch, type EpochMetrics } from '../src/epoch-verdict.js';

const range = (n: number): number[] => [...Array(n).keys()];

function schedule(epochs: number, args: string[]) {
  return evalScheduleOf({ ...parseTrainArgs(args).options, epochs });
}

test("validated epochs follow YOLOv6's after_epoch rule (final epoch always; min(3, K) in the heavy range)", () => {
  // expected lists computed with engine.py's three lines in Python
  assert.deepEqual(evalEpochs(schedule(10, [])), range(10), 'defaults: every epoch, as YOLOv5');
  assert.deepEqual(evalEpochs(schedule(10, ['--eval-interval', '3', '--heavy-eval-range', '0'])), [2, 5, 8, 9]);
  assert.deepEqual(evalEpochs(schedule(12, ['--eval-interval', '5', '--heavy-eval-range', '4'])), [4, 8, 11]);
  assert.deepEqual(evalEpochs(schedule(7, ['--eval-interval', '2', '--heavy-eval-range', '3'])), [1, 3, 5, 6]);
  assert.deepEqual(
    evalEpochs(schedule(100, ['--eval-interval', '20'])),
    [19, 39, 50, 53, 56, 59, 62, 65, 68, 71, 74, 77, 80, 83, 86, 89, 92, 95, 98, 99],
  );
  assert.deepEqual(evalEpochs(schedule(5, ['--eval-final-only', '--eval-interval', '4'])), [4]);
  assert.deepEqual(evalEpochs(schedule(5, ['--noval'])), [4], '--noval is the final-only schedule');
  assert.deepEqual(evalEpochs(schedule(1, ['--eval-interval', '7'])), [0]);
  assert.equal(describeEvalSchedule(schedule(10, [])), 'Validating every epoch');
  assert.equal(
    describeEvalSchedule(schedule(10, ['--eval-interval', '3', '--heavy-eval-range', '0'])),
    'Validating 4 of 10 epochs: 2, 5, 8, 9',
  );
});

test('an epoch where --patience runs out is validated, except in final-only runs', () => {
  const s = schedule(30, ['--eval-interval', '10', '--heavy-eval-range', '0']);
  const stopper = new EarlyStopping(4);
  stopper.step(9, 0.5);
  assert.equal(needsValidation(s, 12, stopper), false);
  assert.equal(needsValidation(s, 13, stopper), true, '13 - best epoch 9 >= patience 4');
  assert.equal(needsValidation(schedule(30, ['--eval-final-only']), 13, stopper), false);
  assert.equal(needsValidation(s, 19, new EarlyStopping(0)), true, 'scheduled');
});

test('early stopping and best.pt count validated epochs only; unvalidated rows have zero metrics as YOLOv5 --noval writes', () => {
  const s = schedule(12, ['--eval-interval', '2', '--heavy-eval-range', '0', '--patience', '3']);
  const state = { bestFitness: 0, stopper: new EarlyStopping(3) };
  const metrics = (map: number): EpochMetrics => ({ p: 0.5, r: 0.4, map50: map, map, valLoss: [0.1, 0.2, map] });
  const fitnessAt: Record<number, number> = { 1: 0.3, 3: 0.5, 5: 0.4, 7: 0.45, 9: 0.2 };
  const validated: number[] = [];
  const best: number[] = [];
  const rows: EpochMetrics[] = [];
  let stoppedAt = -1;
  for (let epoch = 0; epoch < 12; epoch++) {
    const validates = needsValidation(s, epoch, state.stopper);
    const verdict = judgeEpoch(state, epoch, validates ? metrics(fitnessAt[epoch] ?? 0) : null);
    rows.push(verdict.metrics);
    if (verdict.validated) validated.push(epoch);
    if (verdict.isBest) best.push(epoch);
    if (verdict.stop) {
      stoppedAt = epoch;
      break;
    }
  }
  assert.deepEqual(validated, [1, 3, 5, 6], 'epoch 6 is validated because patience 3 runs out there (best: 3)');
  assert.equal(stoppedAt, 6, 'epoch 6 did not improve on epoch 3: stop, 3 epochs after the best validated one');
  assert.deepEqual(best, [1, 3]);
  assert.equal(state.stopper.bestEpoch, 3);
  assert.deepEqual(rows[0], NO_METRICS, 'zeros before the first validation');
  assert.deepEqual(rows[1], metrics(0.3), "epoch 1's own validation");
  assert.deepEqual(rows[2], NO_METRICS, 'epoch 2 not validated: zeros, not epoch 1 again');
  assert.deepEqual(rows[4], NO_METRICS, 'epoch 4 not validated: zeros');
  // every epoch validated: exactly YOLOv5's EarlyStopping sequence
  const every = { bestFitness: 0, stopper: new EarlyStopping(2) };
  const stops = [0.3, 0.3, 0.2, 0.1].map((m, epoch) => judgeEpoch(every, epoch, metrics(m)).stop);
  assert.deepEqual(stops, [false, false, false, true]);
});

test('mosaic closes for the last N epochs, on resume too; N >= epochs closes it from the start', () => {
  const options = { epochs: 10, stop_aug_last_n_epoch: 3 };
  assert.deepEqual(
    range(10).filter((e) => mosaicClosed(options, e)),
    [7, 8, 9],
  );
  assert.deepEqual(
    range(10).filter((e) => mosaicClosed({ epochs: 10, stop_aug_last_n_epoch: 0 }, e)),
    [],
  );
  assert.deepEqual(
    range(4).filter((e) => mosaicClosed({ epochs: 4, stop_aug_last_n_epoch: 9 }, e)),
    [0, 1, 2, 3],
  );
  assert.match(mosaicClosingLine(options, 7, 0)!, /^Closing dataloader mosaic/);
  assert.equal(mosaicClosingLine(options, 8, 0), null, 'logged once, at the switch');
  assert.match(mosaicClosingLine(options, 8, 8)!, /from epoch 7/, 'a run resumed inside the window says so');
  assert.equal(mosaicClosingLine(options, 6, 6), null);
});

test('epoch<N>.pt: the last --save-ckpt-on-last-n-epoch epochs, with --save-period', () => {
  const keep = (args: string[]) => {
    const o = { ...parseTrainArgs(args).options, epochs: 10 };
    return range(10).filter((e) => keepsEpochCheckpoint(o, e));
  };
  assert.deepEqual(keep([]), []);
  assert.deepEqual(keep(['--save-ckpt-on-last-n-epoch', '3']), [7, 8, 9]);
  assert.deepEqual(keep(['--save-ckpt-on-last-n-epoch', '2', '--save-period', '4']), [0, 4, 8, 9]);
  assert.deepEqual(keep(['--save-ckpt-on-last-n-epoch', '-1']), []);
});

test('options: names, aliases, defaults, refusals', () => {
  const d = defaultOptions();
  assert.equal(d.stop_aug_last_n_epoch, 0);
  assert.equal(d.eval_interval, 1);
  assert.equal(d.heavy_eval_range, 50);
  assert.equal(d.eval_final_only, false);
  assert.equal(d.save_ckpt_on_last_n_epoch, -1);
  for (const flag of ['--stop-aug-last-n-epoch', '--stop_aug_last_n_epoch', '--close-mosaic', '--close_mosaic'])
    assert.equal(parseTrainArgs([flag, '5']).options.stop_aug_last_n_epoch, 5, flag);
  const refused = (args: string[], pattern: RegExp) =>
    assert.throws(
      () => validateStatic(parseTrainArgs(args).options, 1),
      (e: Error) => {
        assert.ok(e instanceof UsageError, e.message);
        assert.match(e.message, pattern);
        return true;
      },
    );
  refused(['--close-mosaic', '-1'], /--stop-aug-last-n-epoch\/--close-mosaic must be >= 0 \(got -1\)/);
  refused(['--eval-interval', '0'], /--eval-interval must be >= 1/);
  refused(['--heavy-eval-range', '-2'], /--heavy-eval-range must be >= 0/);
  refused(['--noval', '--eval-interval', '5'], /--noval validates only the final epoch/);
  refused(['--evolve', '2', '--heavy-eval-range', '5'], /--evolve validates each generation/);
  refused(['--nosave', '--save-ckpt-on-last-n-epoch', '2'], /--nosave/);
  refused(['--evolve', '--save-ckpt-on-last-n-epoch', '2'], /--evolve/);
  for (const ok of [
    ['--noval', '--eval-final-only'],
    ['--evolve', '--close-mosaic', '3'],
    ['--close-mosaic', '0'],
  ])
    validateStatic(parseTrainArgs(ok).options, 1);
});
