export * from './types.js';
export { initProcessGroup, ZmqProcessGroup } from './process-group.js';
export { CommError, type CommErrorCode } from './errors.js';
export { sharedFloat32Array, isShared } from './staging.js';
export { isPortFree, getFreePort, canConnect, chooseAdvertiseAddress } from './net.js';
export { resolveOptions, type ResolvedOptions } from './options.js';
export { PROTOCOL_VERSION } from './wire.js';
export { ALLOCATOR_ENV } from './allocator-env.js';
export { WIRE_COMPRESSIONS } from './half.js';
