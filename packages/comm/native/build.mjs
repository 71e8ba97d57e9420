// Builds the optional comm native data plane (native/*.c -> native/build/yolo_comm_native.node)
// with the system C compiler and Node's own headers. libzmq is not linked: the plane looks its
// functions up at run time in zeromq.js's prebuilt addon (native/zmq-api.c). Without a compiler or
// headers it prints "SKIPPED: <why>" and the TypeScript ring runs (src/native.ts says why). The
// shared steps are in scripts/build-native-addon.mjs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNativeAddon } from '../../../scripts/build-native-addon.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
buildNativeAddon({
  label: '@yolo-launch/comm native plane',
  fallback: 'the TypeScript ring is used',
  out: path.join(here, 'build', 'yolo_comm_native.node'),
  sources: ['addon.c', 'plane.c', 'collectives.c', 'zmq-api.c'].map((f) => path.join(here, f)),
  inputs: ['plane.h', 'zmq-api.h'].map((f) => path.join(here, f)).concat(fileURLToPath(import.meta.url)),
  flags: ['-DNAPI_VERSION=8'], // threadsafe functions
  libs: ['-ldl', '-lm', '-lpthread'],
  install: 'gcc',
});
