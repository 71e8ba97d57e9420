// The benchmark's verdict on issue 16's targets: ratios against gloo from the same run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueTargets, type TargetRow } from '../bench/targets.js';

const MB = 1024 * 1024;

function row(
  impl: TargetRow['impl'],
  config: string,
  op: string,
  bytes: number,
  figures: Partial<TargetRow>,
): TargetRow {
  return { config, impl, world: 2, op, bytes, medianMs: 1, p90Ms: 1, busbwGBs: 0, ...figures };
}

test('busbw targets compare with gloo at the same size; times are met when no slower than gloo', () => {
  const rows = [
    row('yolo-comm', 'main', 'allreduce', 64 * MB, { busbwGBs: 1.0 }),
    row('gloo', 'gloo', 'allreduce', 64 * MB, { busbwGBs: 0.8 }),
    row('yolo-comm', 'main', 'allreduce', 16 * MB, { busbwGBs: 0.5 }),
    row('gloo', 'gloo', 'allreduce', 16 * MB, { busbwGBs: 1.0 }),
    row('yolo-comm', 'main', 'barrier', 0, { medianMs: 0.5, p90Ms: 1.5 }),
    row('gloo', 'gloo', 'barrier', 0, { medianMs: 0.2 }),
  ];
  const byFigure = new Map(issueTargets(rows).map((t) => [t.figure, t]));
  assert.equal(byFigure.get('busbw 64 MB, world 2 (GB/s)')?.met, true);
  assert.equal(byFigure.get('busbw 64 MB, world 2 (GB/s)')?.ratio, 1.25);
  assert.equal(byFigure.get('busbw 16 MB, world 2 (GB/s)')?.met, false);
  assert.equal(byFigure.get('barrier median, world 2 (ms)')?.ratio, 0.4);
  // a size without gloo beside it cannot be judged
  assert.equal(byFigure.get('busbw 256 MB, world 2 (GB/s)')?.met, false);
  assert.equal(byFigure.get('busbw 256 MB, world 2 (GB/s)')?.ratio, undefined);
  const spread = issueTargets(rows).find((t) => t.figure.startsWith('largest p90 / median'));
  assert.equal(spread?.ours, 3);
  assert.equal(spread?.met, false);
});

test('a shaped link is judged against gloo on the same link and against its line rate at 64 MB', () => {
  const rows = [
    row('yolo-comm', 'link-1gbit+0.2ms', 'allreduce', 64 * MB, { busbwGBs: 0.115 }),
    row('gloo', 'link-1gbit+0.2ms', 'allreduce', 64 * MB, { busbwGBs: 0.118 }),
    // the compressed variant is reported, not judged
    row('yolo-comm', 'link-1gbit+0.2ms-bf16', 'allreduce', 64 * MB, { busbwGBs: 0.2 }),
  ];
  const link = issueTargets(rows).filter((t) => t.figure.startsWith('link-'));
  assert.deepEqual(
    link.map((t) => [t.figure, t.met]),
    [
      ['link-1gbit+0.2ms busbw 64 MB (GB/s)', true],
      ['link-1gbit+0.2ms 64 MB share of the line rate', true],
    ],
  );
});
