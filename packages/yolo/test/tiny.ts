/** A small YOLOv5-style model for training-path tests (strides 8/16/32, every block type of v6). */
import type { ModelYaml } from '../src/index.js';

export function tinyYaml(nc = 2): ModelYaml {
  return {
    nc,
    depth_multiple: 1.0,
    width_multiple: 1.0,
    anchors: [
      [10, 13, 16, 30, 33, 23],
      [30, 61, 62, 45, 59, 119],
      [116, 90, 156, 198, 373, 326],
    ],
    backbone: [
      [-1, 1, 'Conv', [8, 6, 2, 2]], // 0 /2
      [-1, 1, 'Conv', [16, 3, 2]], // 1 /4
      [-1, 1, 'C3', [16]], // 2
      [-1, 1, 'Conv', [16, 3, 2]], // 3 /8
      [-1, 1, 'Conv', [16, 3, 2]], // 4 /16
      [-1, 1, 'Conv', [16, 3, 2]], // 5 /32
      [-1, 1, 'SPPF', [16, 5]], // 6
    ],
    head: [
      [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']], // 7 /16
      [[-1, 4], 1, 'Concat', [1]], // 8
      [-1, 1, 'C3', [16, 'False']], // 9
      [[3, 9, 6], 1, 'Detect', ['nc', 'anchors']],
    ],
  };
}
