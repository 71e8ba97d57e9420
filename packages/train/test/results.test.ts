import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatG, resultsHeader, resultsRow } from '../src/results.js';

test('formatG matches printf %.5g', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [1, '1'],
    [0.1, '0.1'],
    [0.0123456, '0.012346'],
    [123456, '1.2346e+05'],
    [12345, '12345'],
    [0.00001234, '1.234e-05'],
    [0.0001, '0.0001'],
    [99999.5, '1e+05'],
    [0.0085, '0.0085'],
    [-0.5, '-0.5'],
    [0.070332, '0.070332'],
  ];
  for (const [x, s] of cases) assert.equal(formatG(x), s, String(x));
});

test('results.csv columns and widths are YOLOv5 ones', () => {
  const h = resultsHeader();
  assert.equal(
    h,
    '               epoch,      train/box_loss,      train/obj_loss,      train/cls_loss,   metrics/precision,      metrics/recall,     metrics/mAP_0.5,metrics/mAP_0.5:0.95,        val/box_loss,        val/obj_loss,        val/cls_loss,               x/lr0,               x/lr1,               x/lr2\n',
  );
  const r = resultsRow(0, [0.1, 0.2, 0.3, 0, 0, 0, 0, 0.1, 0.2, 0.3, 0.07, 0.0033, 0.0033]);
  assert.ok(r.startsWith('                   0,                 0.1,'));
});
