// A small but real checkpoint (a one-Conv + Detect model, so that it is written as a YOLOv5
// DetectionModel) with deterministic values; `optimizerValues` sizes the momentum buffer
// that makes a file big (the kill-during-write test).
import { initBackend } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import type { Checkpoint, NamedTensor } from '../../src/checkpoint.js';

export const MICRO_YAML: yolo.ModelYaml = {
  nc: 3,
  depth_multiple: 1,
  width_multiple: 1,
  anchors: [[10, 13, 16, 30]],
  backbone: [[-1, 1, 'Conv', [8, 3, 2]]],
  head: [[[0], 1, 'Detect', ['nc', 'anchors']]],
};

let shapes: { name: string; shape: number[] }[] | null = null;

async function microShapes(): Promise<{ name: string; shape: number[] }[]> {
  if (!shapes) {
    await initBackend({ backend: 'cpu' });
    const model = yolo.createModel(MICRO_YAML);
    shapes = Object.entries(model.stateDict()).map(([name, t]) => ({ name, shape: t.shape }));
    model.dispose();
  }
  return shapes;
}

function tensors(list: { name: string; shape: number[] }[], value: (name: string, i: number) => number): NamedTensor[] {
  return list.map(({ name, shape }) => ({
    name,
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => value(name, i)),
  }));
}

export async function sampleCheckpoint(epoch: number, optimizerValues = 1000): Promise<Checkpoint> {
  const entries = await microShapes();
  const value = (name: string, i: number): number =>
    name.endsWith('num_batches_tracked') ? epoch : Math.sin(i + epoch);
  const momentum = new Float32Array(optimizerValues).map((_, i) => Math.sin(i + epoch) * 0.1);
  return {
    meta: {
      epoch,
      best_fitness: 0.5,
      updates: 10 * epoch,
      optimizer: { name: 'SGD', step: epoch },
      opt: { epochs: 3, cfg: 'micro.yaml' },
      hyp: { lr0: 0.01 },
      model_yaml: MICRO_YAML as unknown as Record<string, unknown>,
      names: ['a', 'b', 'c'],
      nc: 3,
      best_epoch: 0,
      maps: [0, 0, 0],
      date: new Date(0).toISOString(),
      extra: { last_opt_step: epoch },
    },
    model: tensors(entries, value),
    ema: tensors(entries, (name, i) => value(name, i) * (name.endsWith('num_batches_tracked') ? 1 : 0.5)),
    optimizer: [{ name: 'model.0.conv.weight/momentum_buffer', shape: [optimizerValues], data: momentum }],
  };
}
