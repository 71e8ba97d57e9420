import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '@yolo-launch/data';
import { EVOLVE_META, mutateHyp, readEvolveCsv, recordGeneration } from '../src/evolve.js';
import { loadHyp } from '../src/config.js';
import { HYP_DIR } from '../src/paths.js';

test('evolution: limits, rounding, parent mutation, evolve.csv and hyp_evolved.yaml', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolve-'));
  try {
    const base = loadHyp(path.join(HYP_DIR, 'hyp.scratch-low.yaml'));
    const csv = path.join(dir, 'evolve.csv');
    const g0 = mutateHyp(base, csv, Rng.from(0, 0));
    assert.deepEqual(
      g0,
      {
        ...base,
        ...Object.fromEntries(
          Object.keys(EVOLVE_META)
            .filter((k) => k in base)
            .map((k) => [k, base[k]]),
        ),
      },
      'first generation = base (limited, rounded)',
    );
    recordGeneration(dir, [0.5, 0.4, 0.3, 0.1, 0.05, 0.02, 0.01], g0);
    const g1 = mutateHyp(base, csv, Rng.from(0, 1));
    assert.notDeepEqual(g1, g0, 'a mutation changed something');
    for (const [k, [gain, lo, hi]] of Object.entries(EVOLVE_META)) {
      if (!(k in g1)) continue;
      assert.ok(g1[k]! >= lo && g1[k]! <= hi, `${k} within limits`);
      assert.equal(g1[k], Math.round(g1[k]! * 1e5) / 1e5, `${k} rounded to 5 decimals`);
      if (gain === 0) assert.equal(g1[k], g0[k], `${k} has gain 0 and does not mutate`);
    }
    assert.deepEqual(mutateHyp(base, csv, Rng.from(0, 1)), g1, 'deterministic for a seed');
    const r = recordGeneration(dir, [0.9, 0.8, 0.7, 0.6, 0.05, 0.02, 0.01], g1);
    assert.equal(r.best, 1);
    assert.equal(r.generations, 2);
    const { keys, rows } = readEvolveCsv(csv);
    assert.deepEqual(keys.slice(0, 7), [
      'metrics/precision',
      'metrics/recall',
      'metrics/mAP_0.5',
      'metrics/mAP_0.5:0.95',
      'val/box_loss',
      'val/obj_loss',
      'val/cls_loss',
    ]);
    assert.equal(rows.length, 2);
    const evolved = fs.readFileSync(path.join(dir, 'hyp_evolved.yaml'), 'utf8');
    assert.match(evolved, /# Best generation: 1\n# Last generation: 1/);
    assert.match(evolved, new RegExp(`lr0: ${g1.lr0}`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
