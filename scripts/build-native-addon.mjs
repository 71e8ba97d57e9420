// Builds one of the project's optional C addons (packages/data/native, packages/comm/native) with
// the system C compiler and Node's own headers. It never fails the build: without a compiler,
// headers or a library it prints "<label> SKIPPED: <why> (<fallback>)" and exits 0, and the
// package runs its JS path. YOLO_LAUNCH_NATIVE_BUILD=0 skips every addon on purpose.
//
// -ffp-contract=off -fno-fast-math: no fused multiply-add, so the float32 and float64 arithmetic
// of an addon is JS's, bit for bit (the addons are tested bit-identical to their JS paths).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * @typedef {object} AddonBuild
 * @property {string} label     what the printed lines call it ("@yolo-launch/data native addon")
 * @property {string} fallback  what runs without it ("the JS/sharp path is used")
 * @property {string} out       the .node file to write
 * @property {string[]} sources C files
 * @property {string[]} inputs  every other file whose change means a rebuild (headers, build.mjs)
 * @property {string[]} flags   extra compiler flags (-D...)
 * @property {string[]} libs    -l... flags
 * @property {string} install   Debian/Ubuntu packages a failed compile may need ("gcc libjpeg-dev")
 */

function nodeIncludeDir() {
  const candidates = [
    process.env.NODE_INCLUDE_DIR,
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
  ].filter(Boolean);
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
}

/** @param {AddonBuild} addon */
export function buildNativeAddon(addon) {
  const skip = (why) => {
    console.log(`${addon.label} SKIPPED: ${why} (${addon.fallback})`);
    process.exit(0);
  };
  if (process.env.YOLO_LAUNCH_NATIVE_BUILD === '0') skip('YOLO_LAUNCH_NATIVE_BUILD=0');
  if (process.platform !== 'linux') skip(`only Linux is supported, this is ${process.platform}`);
  const include = nodeIncludeDir();
  if (!include) skip(`Node's headers (node_api.h) not found beside ${process.execPath}; set NODE_INCLUDE_DIR`);
  const cc = process.env.CC || 'cc';
  const args = [
    ...['-O3', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-ffp-contract=off', '-fno-fast-math'],
    ...['-Wall', '-Wextra', '-Wno-unused-parameter', `-I${include}`, ...addon.flags],
    ...addon.sources,
    ...['-o', `${addon.out}.tmp`, ...addon.libs],
  ];
  const newest = Math.max(...[...addon.sources, ...addon.inputs].map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(addon.out) && fs.statSync(addon.out).mtimeMs > newest) process.exit(0); // up to date
  fs.mkdirSync(path.dirname(addon.out), { recursive: true });
  const run = spawnSync(cc, args, { encoding: 'utf8' });
  if (run.error) skip(`no C compiler (${cc}: ${run.error.message}); install ${addon.install}`);
  if (run.status !== 0) {
    fs.rmSync(`${addon.out}.tmp`, { force: true });
    const lines = (run.stderr || '').split('\n');
    const why = [/fatal error|cannot find/, /error/].map((re) => lines.find((l) => re.test(l))).find(Boolean);
    skip(`${cc} failed: ${(why ?? lines[0] ?? '').trim()} (Debian/Ubuntu: apt install ${addon.install})`);
  }
  if (run.stderr.trim()) console.log(run.stderr.trim());
  fs.renameSync(`${addon.out}.tmp`, addon.out);
  console.log(`${addon.label} built: ${path.relative(process.cwd(), addon.out)}`);
}
