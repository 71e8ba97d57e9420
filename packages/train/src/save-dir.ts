// save_dir (train.py step 2): rank 0 picks it (increment_path) and creates it with weights/,
// the run marker, opt.yaml and hyp.yaml; every rank hears it and opens train.log there.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreparedRun } from './context.js';
import { incrementPath } from './paths.js';
import { writeFileAtomic } from './checkpoint.js';
import { RUN_MARKER } from './resume.js';
import { writeHypYaml, writeOptYaml } from './run-files.js';

/** save_dir: rank 0 picks (and creates) it and writes opt.yaml and hyp.yaml; every rank uses the same. */
export async function openSaveDir(run: PreparedRun): Promise<string> {
  const { options, distEnv, log, hyp } = run;
  const isMain = distEnv.rank <= 0;
  let saveDir = '';
  if (isMain) {
    saveDir = run.plan.saveDir ?? incrementPath(path.resolve(options.project, options.name), options.exist_ok);
    fs.mkdirSync(path.join(saveDir, 'weights'), { recursive: true });
    if (distEnv.runId) writeFileAtomic(path.join(saveDir, RUN_MARKER), JSON.stringify({ run_id: distEnv.runId }));
  }
  saveDir = await run.processGroup.broadcastObject(saveDir, 0);
  log.openFile(saveDir);
  if (isMain) {
    const shown = Object.entries({ ...options, hyp: undefined }).filter(([, v]) => v !== undefined);
    log.info(`train: ${shown.map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v}]` : String(v)}`).join(', ')}`);
    log.info(
      `hyperparameters: ${Object.entries(hyp)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
    log.record('backend', { backend: run.backend, world_size: distEnv.worldSize });
    if (!run.resumeCheckpoint) {
      writeHypYaml(saveDir, hyp);
      writeOptYaml(saveDir, options, hyp);
    }
  }
  return saveDir;
}
