/**
 * Model YAMLs that tests of several packages build (exported as @yolo-launch/yolo/test-helpers):
 * the YOLOv5 v5.0 layout with a Focus stem and SPP, which no shipped YAML has any more.
 */
import type { ModelYaml } from '../src/index.js';

type Layer = ModelYaml['backbone'][number];

/** YOLOv5's default P3/P4/P5 anchors (every shipped YAML's). */
export const YOLOV5_ANCHORS = [
  [10, 13, 16, 30, 33, 23],
  [30, 61, 62, 45, 59, 119],
  [116, 90, 156, 198, 373, 326],
];

export interface FocusSppOptions {
  nc: number;
  depth_multiple: number;
  width_multiple: number;
  /** Stride-2 stages under the top one: [channels, repeats, block]; the last two feed the head. */
  stages: [channels: number, repeats: number, block: 'C3' | 'Bottleneck'][];
  /** Channels of the top stage: Conv, SPP, then C3 without shortcut. */
  top: number;
  /** Add the bottom-up (PAN) path and detect on it, as v5.0 does; without it Detect reads the top-down path. */
  pan: boolean;
}

/**
 * Focus stem, stride-2 Conv + block stages, SPP and C3(False) on top, a top-down head to P3
 * (and, with `pan`, back up to P5), Detect on P3/P4/P5: yolov5s.yaml of YOLOv5 v5.0 is
 * `{ stages: [[128, 3, 'C3'], [256, 9, 'C3'], [512, 9, 'C3']], top: 1024, pan: true }`.
 */
export function focusSppYaml(o: FocusSppOptions): ModelYaml {
  const backbone: Layer[] = [[-1, 1, 'Focus', [64, 3]]];
  const blockIndex: number[] = [];
  for (const [channels, repeats, block] of o.stages) {
    backbone.push([-1, 1, 'Conv', [channels, 3, 2]], [-1, repeats, block, [channels]]);
    blockIndex.push(backbone.length - 1);
  }
  backbone.push([-1, 1, 'Conv', [o.top, 3, 2]], [-1, 1, 'SPP', [o.top, [5, 9, 13]]], [-1, 3, 'C3', [o.top, 'False']]);
  const head: Layer[] = [];
  const index = () => backbone.length + head.length - 1;
  const [p3, p4] = o.stages.slice(-2).map(([channels]) => channels) as [number, number];
  const lateral: number[] = [];
  const outputs: number[] = [index()];
  const topDown: [channels: number, skip: number][] = [
    [p4, blockIndex[blockIndex.length - 1]!],
    [p3, blockIndex[blockIndex.length - 2]!],
  ];
  for (const [channels, skip] of topDown) {
    head.push([-1, 1, 'Conv', [channels, 1, 1]]);
    lateral.push(index());
    head.push([-1, 1, 'nn.Upsample', ['None', 2, 'nearest']], [[-1, skip], 1, 'Concat', [1]]);
    head.push([-1, 3, 'C3', [channels, 'False']]);
    outputs.unshift(index());
  }
  if (o.pan) {
    outputs.splice(0, outputs.length, index());
    const bottomUp: [channels: number, from: number][] = [
      [p3, lateral[1]!],
      [p4, lateral[0]!],
    ];
    for (const [channels, from] of bottomUp) {
      head.push(
        [-1, 1, 'Conv', [channels, 3, 2]],
        [[-1, from], 1, 'Concat', [1]],
        [-1, 3, 'C3', [channels * 2, 'False']],
      );
      outputs.push(index());
    }
  }
  head.push([[outputs[0]!, outputs[1]!, outputs[2]!], 1, 'Detect', ['nc', 'anchors']]);
  return {
    nc: o.nc,
    depth_multiple: o.depth_multiple,
    width_multiple: o.width_multiple,
    anchors: YOLOV5_ANCHORS,
    backbone,
    head,
  };
}
