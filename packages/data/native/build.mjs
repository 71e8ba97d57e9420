// Builds the optional native addon (native/*.c -> native/build/yolo_data_native.node) with the
// system C compiler, Node's own headers and libjpeg-turbo. It never fails the build: without a
// compiler, headers or libjpeg it prints "SKIPPED: <why>" and the package runs its JS/sharp path
// (src/native.ts says which path is in use). YOLO_LAUNCH_NATIVE_BUILD=0 skips it on purpose.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'build', 'yolo_data_native.node');
const sources = ['addon.c', 'jpeg.c', 'warp.c', 'hsv.c', 'resize.c'].map((f) => path.join(here, f));

function skip(why) {
  console.log(`@yolo-launch/data native addon SKIPPED: ${why} (the JS/sharp path is used)`);
  process.exit(0);
}

function nodeIncludeDir() {
  const candidates = [
    process.env.NODE_INCLUDE_DIR,
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
  ].filter(Boolean);
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
}

if (process.env.YOLO_LAUNCH_NATIVE_BUILD === '0') skip('YOLO_LAUNCH_NATIVE_BUILD=0');
if (process.platform !== 'linux') skip(`only Linux is supported, this is ${process.platform}`);
const include = nodeIncludeDir();
if (!include) skip(`Node's headers (node_api.h) not found beside ${process.execPath}; set NODE_INCLUDE_DIR`);
const cc = process.env.CC || 'cc';
// -ffp-contract=off: no fused multiply-add, so the float64 arithmetic is JS's, bit for bit
const args = [
  ...['-O3', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-ffp-contract=off', '-fno-fast-math'],
  ...['-Wall', '-Wextra', '-Wno-unused-parameter', `-I${include}`],
  ...sources,
  ...['-o', `${out}.tmp`, '-ljpeg', '-lm', '-lpthread'],
];
const newest = Math.max(
  ...sources.map((f) => fs.statSync(f).mtimeMs),
  fs.statSync(path.join(here, 'native.h')).mtimeMs,
);
if (fs.existsSync(out) && fs.statSync(out).mtimeMs > newest) process.exit(0); // up to date
fs.mkdirSync(path.dirname(out), { recursive: true });
const run = spawnSync(cc, args, { encoding: 'utf8' });
if (run.error) skip(`no C compiler (${cc}: ${run.error.message}); install gcc and libjpeg-turbo's headers`);
if (run.status !== 0) {
  fs.rmSync(`${out}.tmp`, { force: true });
  const lines = (run.stderr || '').split('\n');
  const why = [/fatal error|cannot find/, /error/].map((re) => lines.find((l) => re.test(l))).find(Boolean);
  skip(`${cc} failed: ${(why ?? lines[0] ?? '').trim()} (Debian/Ubuntu: apt install gcc libjpeg-dev)`);
}
if (run.stderr.trim()) console.log(run.stderr.trim());
fs.renameSync(`${out}.tmp`, out);
console.log(`@yolo-launch/data native addon built: ${path.relative(process.cwd(), out)}`);
