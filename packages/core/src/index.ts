// @yolo-launch/core: small, dependency-free helpers several packages share.
export { roundHalfEven, pyMod, makeDivisible, checkImgSize } from './rounding.js';
export { mixSeed, Sfc32Rng, Mulberry32Rng, splitmix32 } from './rng.js';
export { fnv1aWords, FNV_OFFSET, FNV_PRIME } from './hash.js';
