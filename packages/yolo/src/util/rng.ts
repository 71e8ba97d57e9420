// mulberry32 (model initialisation, AutoAnchor) lives in @yolo-launch/core with the project's
// other generators; its stream must not change.
export { Mulberry32Rng as Rng } from '@yolo-launch/core';
