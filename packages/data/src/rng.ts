// The data pipeline's generator (sfc32 seeded by mixSeed) lives in @yolo-launch/core with the
// project's other generators; its stream must not change (every augmentation depends on it).
export { Sfc32Rng as Rng, mixSeed } from '@yolo-launch/core';
