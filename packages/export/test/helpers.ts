/** Models with non-trivial weights and real (or synthetic) letterboxed images for the export tests. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSyntheticImage } from '@yolo-launch/data';
import { saveCheckpoint } from '@yolo-launch/train';
import { createModel, modelYamlPath, Rng, type YoloModel } from '@yolo-launch/yolo';
import { letterboxInput, type ModelInput } from '../src/index.js';

export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
export const repoRoot = path.resolve(packageRoot, '../..');
const coco128Images = path.resolve(repoRoot, '../shared/datasets/coco128/images/train2017');

/**
 * A model whose BatchNorm statistics and affine parameters are random (not 0/1), so that folding
 * BN into the convolutions is really exercised.
 */
export function testModel(name: 'yolov5n' | 'yolov5s', nc = 3, seed = 1): YoloModel {
  const model = createModel(modelYamlPath(name)!, { nc, seed });
  const rng = new Rng(seed + 100);
  const sd = model.stateDict();
  for (const [key, t] of Object.entries(sd)) {
    const fill = (lo: number, hi: number) => t.data.forEach((_, k) => (t.data[k] = rng.uniform(lo, hi)));
    if (key.endsWith('.bn.running_mean')) fill(-0.2, 0.2);
    else if (key.endsWith('.bn.running_var')) fill(0.5, 1.5);
    else if (key.endsWith('.bn.weight')) fill(0.7, 1.3);
    else if (key.endsWith('.bn.bias')) fill(-0.1, 0.1);
  }
  model.loadStateDict(sd);
  return model;
}

export interface TestImage {
  label: string;
  input: ModelInput;
}

/** Up to `count` coco128 images letterboxed to size (sorted names); a synthetic image without ../shared. */
export async function testImages(size: [number, number], count: number): Promise<TestImage[]> {
  if (existsSync(coco128Images)) {
    const files = readdirSync(coco128Images)
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort()
      .slice(0, count);
    if (files.length)
      return Promise.all(
        files.map(async (f) => ({ label: f, input: await letterboxInput(path.join(coco128Images, f), size) })),
      );
  }
  const synthetic = renderSyntheticImage(0, 1, 0, { seed: 0, nTrain: 1, nVal: 1, imgSize: 160, maxObjects: 4 });
  return [{ label: 'synthetic (../shared absent)', input: await letterboxInput(synthetic.image, size) }];
}

/**
 * The comparison tolerance: abs 1e-4, plus 1e-6 relative for box coordinates in pixels
 * (a float32 value near 320 px has a spacing of 3e-5, so two correct implementations that sum
 * convolutions in another order differ by a few of those).
 */
export function withinTolerance(got: number, want: number, abs = 1e-4): boolean {
  return Math.abs(got - want) <= abs + 1e-6 * Math.abs(want);
}

/** Largest |a - b| and where. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number; outside: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  let at = -1;
  let outside = 0;
  for (let i = 0; i < a.length; i++) {
    if (!withinTolerance(a[i]!, b[i]!)) outside++;
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max || Number.isNaN(d)) [max, at] = [Number.isNaN(d) ? Infinity : d, i];
  }
  return { max, at, outside };
}

/** A final (stripped) checkpoint of `model` as train writes best.pt, without training. */
export function saveTestCheckpoint(file: string, model: YoloModel, names: string[]): void {
  const tensors = Object.entries(model.stateDict()).map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  saveCheckpoint(file, {
    meta: {
      epoch: -1,
      best_fitness: 0,
      updates: null,
      optimizer: null,
      opt: {},
      hyp: {},
      model_yaml: { ...model.yaml, nc: model.nc } as unknown as Record<string, unknown>,
      names,
      nc: model.nc,
      best_epoch: 0,
      maps: [],
      date: new Date(0).toISOString(),
    },
    model: tensors,
    ema: null,
    optimizer: null,
  });
}

/**
 * Makes a random-weights model behave a little like a trained one: Detect's conv weights times
 * `gain` (logits that vary from cell to cell instead of sitting near their bias), plus offsets
 * on the objectness and class logits so that some boxes pass conf_thres.
 */
export function boostLogits(model: YoloModel, objectness: number, classes: number, gain = 1): void {
  const sd = model.stateDict();
  const detect = `model.${model.plan[model.plan.length - 1]!.i}`;
  for (let i = 0; i < model.nl; i++) {
    const bias = sd[`${detect}.m.${i}.bias`];
    const weight = sd[`${detect}.m.${i}.weight`];
    if (!bias || !weight) throw new Error(`no Detect conv for layer ${i}`);
    weight.data.forEach((v, k) => (weight.data[k] = v * gain));
    for (let a = 0; a < model.na; a++)
      for (let k = 4; k < model.no; k++) bias.data[a * model.no + k]! += k === 4 ? objectness : classes;
  }
  model.loadStateDict(sd);
}

/** Our forward's rows (a*ny*nx + cell, pixels) in the web model's order (cell*na + a, 0-1). */
export function toWebModelConvention(
  model: YoloModel,
  pred: Float32Array,
  [height, width]: [number, number],
): Float32Array {
  const { na, no } = model;
  const out = new Float32Array(pred.length);
  let row0 = 0;
  for (const s of model.stride) {
    const cells = (height / s) * (width / s);
    for (let a = 0; a < na; a++)
      for (let c = 0; c < cells; c++) {
        const from = (row0 + a * cells + c) * no;
        const to = (row0 + c * na + a) * no;
        for (let k = 0; k < no; k++)
          out[to + k] = k < 4 ? pred[from + k]! / (k % 2 === 0 ? width : height) : pred[from + k]!;
      }
    row0 += na * cells;
  }
  return out;
}
