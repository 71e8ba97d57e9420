// Builds the optional native addon (native/*.c -> native/build/yolo_data_native.node) with the
// system C compiler, Node's own headers and libjpeg-turbo; without them it prints "SKIPPED: <why>"
// and the package runs its JS/sharp path (src/native.ts says which path is in use). The shared
// steps are in scripts/build-native-addon.mjs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNativeAddon } from '../../../scripts/build-native-addon.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
buildNativeAddon({
  label: '@yolo-launch/data native addon',
  fallback: 'the JS/sharp path is used',
  out: path.join(here, 'build', 'yolo_data_native.node'),
  sources: ['addon.c', 'jpeg.c', 'warp.c', 'hsv.c', 'resize.c'].map((f) => path.join(here, f)),
  inputs: [path.join(here, 'native.h'), fileURLToPath(import.meta.url)],
  flags: [],
  libs: ['-ljpeg', '-lm', '-lpthread'],
  install: 'gcc libjpeg-dev',
});
