// Builds the optional comm native data plane (native/*.c -> native/build/yolo_comm_native.node)
// with the system C compiler and Node's own headers. libzmq is not linked: the plane looks its
// functions up at run time in zeromq.js's prebuilt addon (native/zmq-api.c). It never fails the
// build: without a compiler or headers it prints "SKIPPED: <why>" and the TypeScript ring runs
// (src/native.ts says why). YOLO_LAUNCH_NATIVE_BUILD=0 skips it on purpose.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'build', 'yolo_comm_native.node');
const sources = ['addon.c', 'plane.c', 'collectives.c', 'zmq-api.c'].map((f) => path.join(here, f));
const headers = ['plane.h', 'zmq-api.h'].map((f) => path.join(here, f));

function skip(why) {
  console.log(`@yolo-launch/comm native plane SKIPPED: ${why} (the TypeScript ring is used)`);
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
// -ffp-contract=off -fno-fast-math: the float additions and double divisions are JS's, bit for bit
const args = [
  ...['-O3', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-ffp-contract=off', '-fno-fast-math'],
  ...['-Wall', '-Wextra', '-Wno-unused-parameter', `-I${include}`, '-DNAPI_VERSION=8'],
  ...sources,
  ...['-o', `${out}.tmp`, '-ldl', '-lm', '-lpthread'],
];
const newest = Math.max(...[...sources, ...headers, fileURLToPath(import.meta.url)].map((f) => fs.statSync(f).mtimeMs));
if (fs.existsSync(out) && fs.statSync(out).mtimeMs > newest) process.exit(0); // up to date
fs.mkdirSync(path.dirname(out), { recursive: true });
const run = spawnSync(cc, args, { encoding: 'utf8' });
if (run.error) skip(`no C compiler (${cc}: ${run.error.message}); install gcc`);
if (run.status !== 0) {
  fs.rmSync(`${out}.tmp`, { force: true });
  const lines = (run.stderr || '').split('\n');
  const why = [/fatal error|cannot find/, /error/].map((re) => lines.find((l) => re.test(l))).find(Boolean);
  skip(`${cc} failed: ${(why ?? lines[0] ?? '').trim()} (Debian/Ubuntu: apt install gcc)`);
}
if (run.stderr.trim()) console.log(run.stderr.trim());
fs.renameSync(`${out}.tmp`, out);
console.log(`@yolo-launch/comm native plane built: ${path.relative(process.cwd(), out)}`);
