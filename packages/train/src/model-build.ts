// The model (train.py step 4): built from the YAML with the data's nc, seeded identically on
// every rank; weights transferred from --weights or the resumed checkpoint; --freeze; --sync-bn.

import * as yolo from '@yolo-launch/yolo';
import { syncBatchNormMoments } from '@yolo-launch/ddp';
import { UsageError } from './options.js';
import type { PreparedRun } from './context.js';
import type { TrainLog } from './log.js';
import type { NamedTensor } from './checkpoint.js';
import { ModelState } from './model-state.js';

function logModelSummary(model: yolo.YoloModel, log: TrainLog): void {
  log.info(
    `${''.padStart(3)}${'from'.padStart(18)}${'n'.padStart(3)}${'params'.padStart(10)}  ${'module'.padEnd(40)}${'arguments'.padEnd(30)}`,
  );
  for (const l of model.layers())
    log.info(
      `${String(l.i).padStart(3)}${JSON.stringify(l.from).padStart(18)}${String(l.n).padStart(3)}${String(l.params).padStart(10)}  ${l.module.padEnd(40)}${l.args.padEnd(30)}`,
    );
  log.info(`Model summary: ${model.stateEntries().length} entries, ${model.numParameters()} parameters`);
}

/** `name: [file shape] vs [model shape]` of the first entry that does not fit, for errors. */
function firstMismatch(tensors: readonly NamedTensor[], model: yolo.YoloModel): string {
  const shapes = new Map(model.stateEntries().map((e) => [e.name, e.shape]));
  const differing = tensors.find((t) => shapes.has(t.name) && String(t.shape) !== String(shapes.get(t.name)));
  if (!differing) return `no entry has one of the model's names, e.g. ${tensors[0]?.name ?? '(empty)'}`;
  return `e.g. ${differing.name}: [${differing.shape}] in the file, [${shapes.get(differing.name)!}] in the model`;
}

/** The model (seeded identically on every rank), its transferred weights, --freeze, --sync-bn. */
export function buildModel(run: PreparedRun, nc: number): { model: yolo.YoloModel; state: ModelState } {
  const { options, hyp, log } = run;
  const isMain = run.distEnv.rank <= 0;
  const model = yolo.createModel(run.modelYaml, {
    nc,
    seed: options.seed,
    ...(hyp.anchors ? { anchors: Math.round(hyp.anchors) } : {}),
  });
  if (isMain) logModelSummary(model, log);
  const source = run.resumeCheckpoint ?? run.weightsCheckpoint;
  let state = new ModelState(model);
  if (source) {
    // YOLOv5: csd = intersect_dicts(ckpt model, model, exclude=['anchor'] when cfg/hyp anchors given and not resuming)
    const exclude = (options.cfg || hyp.anchors) && !run.resumeCheckpoint ? ['anchor'] : [];
    const n = state.loadTensors(source.model, { strict: Boolean(run.resumeCheckpoint), exclude });
    // train.py would go on from scratch; a file none of whose entries fits is a wrong file.
    if (n === 0)
      throw new UsageError(
        `--weights ${options.weights}: none of its ${source.model.length} entries fits the model (${firstMismatch(source.model, model)}); give the --cfg these weights were trained with, or drop --cfg to rebuild the model from the file`,
      );
    if (isMain)
      log.info(
        `Transferred ${n}/${model.stateEntries().length} items from ${run.resumeCheckpoint ? run.plan.checkpointFile : options.weights}`,
      ); // as given, like train.py
  }
  // --freeze: a single N freezes layers 0..N-1 (the default [0] freezes nothing).
  const freezeLayers =
    options.freeze.length > 1 ? options.freeze : Array.from({ length: options.freeze[0] ?? 0 }, (_, i) => i);
  if (freezeLayers.length) {
    const frozen = model.freezePrefixes(freezeLayers.map((i) => `model.${i}.`));
    if (isMain) for (const f of frozen) log.info(`freezing ${f}`);
    state = new ModelState(model);
  }
  if (options.sync_bn && run.distEnv.worldSize > 1) {
    model.setMomentsFn(syncBatchNormMoments(run.processGroup) as unknown as Parameters<typeof model.setMomentsFn>[0]);
    if (isMain) log.info('Using SyncBatchNorm()');
  }
  return { model, state };
}
