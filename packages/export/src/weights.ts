/**
 * --weights: the one place that reads a trained model from a file. Today that is our
 * checkpoint format through @yolo-launch/train's reader (YOLOv5's attempt_load: the EMA when
 * the file has one, else the model); a PyTorch .pt reader replaces the body of this function
 * and nothing else.
 */
import { existsSync } from 'node:fs';
import { loadCheckpoint, type NamedTensor } from '@yolo-launch/train';
import { missingWeights, WeightsError } from './errors.js';
import { createModel, type ModelYaml, type StateDict, type YoloModel } from '@yolo-launch/yolo';

export interface LoadedWeights {
  file: string;
  model: YoloModel;
  /** Class names, index = class id. */
  names: string[];
}

export function loadWeights(file: string): LoadedWeights {
  if (!existsSync(file)) throw missingWeights(file);
  let checkpoint;
  try {
    checkpoint = loadCheckpoint(file);
  } catch (err) {
    throw new WeightsError(`--weights ${file}: ${(err as Error).message}`);
  }
  const { meta } = checkpoint;
  let model: YoloModel | null = null;
  try {
    model = createModel(meta.model_yaml as unknown as ModelYaml, { nc: meta.nc });
    model.loadStateDict(toStateDict(checkpoint.ema ?? checkpoint.model));
  } catch (err) {
    model?.dispose();
    throw new WeightsError(`--weights ${file}: the model in it cannot be rebuilt: ${(err as Error).message}`);
  }
  return { file, model, names: meta.names };
}

function toStateDict(tensors: NamedTensor[]): StateDict {
  const sd: StateDict = {};
  for (const t of tensors) sd[t.name] = { shape: t.shape, data: Float32Array.from(t.data) };
  return sd;
}
