// --evolve n: n generations, each one training run (a DDP job under the launcher), into
// runs/evolve/exp<N>; rank 0 mutates and broadcasts the hyperparameters and records results
// (the mutation and evolve.csv are evolve.ts's).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as data from '@yolo-launch/data';
import type { TrainOptions } from './options.js';
import type { Hyp } from './config.js';
import type { PreparedRun, TrainResult } from './context.js';
import { incrementPath } from './paths.js';
import { mutateHyp, readEvolveCsv, recordGeneration } from './evolve.js';
import { runOnce } from './single-run.js';

export async function runEvolve(run: PreparedRun, generations: number): Promise<TrainResult> {
  const { options, processGroup, log } = run;
  const isMain = run.distEnv.rank <= 0;
  const project = options.project === 'runs/train' ? 'runs/evolve' : options.project;
  const generationOptions: TrainOptions = { ...options, noval: true, nosave: true, project };
  let dir = '';
  if (isMain) {
    dir = incrementPath(path.resolve(project, options.name), options.exist_ok);
    fs.mkdirSync(dir, { recursive: true });
  }
  dir = await processGroup.broadcastObject(dir, 0);
  const csv = path.join(dir, 'evolve.csv');
  let last: TrainResult | null = null;
  for (let g = 0; g < generations; g++) {
    let hyp: Hyp | null = null;
    if (isMain) hyp = mutateHyp(run.hyp, csv, data.Rng.from(options.seed, readEvolveCsv(csv).rows.length, 0xe701e));
    hyp = (await processGroup.broadcastObject(hyp, 0))!;
    last = await runOnce({
      ...run,
      options: generationOptions,
      hyp,
      resumeCheckpoint: null,
      plan: { checkpointFile: null, saveDir: dir, options: generationOptions },
    });
    if (isMain) {
      const f = last.final ?? { p: 0, r: 0, map50: 0, map: 0, loss: [0, 0, 0] };
      const r = recordGeneration(dir, [f.p, f.r, f.map50, f.map, ...f.loss], hyp);
      log.info(
        `evolve: generation ${g + 1}/${generations} fitness ${(0.1 * f.map50 + 0.9 * f.map).toFixed(5)}; best generation ${r.best}`,
      );
    }
  }
  if (isMain)
    log.info(
      `Hyperparameter evolution finished ${generations} generations\nResults saved to ${dir}\nUsage example: $ train --hyp ${path.join(dir, 'hyp_evolved.yaml')}`,
    );
  return last!;
}
