// The image must be built the way CI builds and tests the code: the same install command, the
// same build task, the same workspaces, and an entrypoint that reaches the launcher CI compiles.
// When .ci/run, the root scripts or the workspaces change, these fail until the Dockerfile follows.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findStage, repoPath, runCommands, type Instruction } from '../src/index.js';
import { dockerfile, readJson, type PackageJson } from './recipes.js';

const ciScript = readFileSync(repoPath('.ci/run'), 'utf8');
/** The CI script's commands, one per line, comments and shell set-up dropped. */
const ciCommands = ciScript
  .split('\n')
  .map((l) => l.replace(/#.*$/, '').trim())
  .filter((l) => l && !/^(set|cd|export)\b/.test(l));

const build = findStage(dockerfile, 'build');
const buildRuns = build.instructions.filter((i) => i.keyword === 'RUN').flatMap(runCommands);
const root = readJson<PackageJson>('package.json');
const turbo = readJson<{ tasks: Record<string, { dependsOn?: string[] }> }>('turbo.json');

describe('the image builds what CI builds', () => {
  it('installs dependencies with exactly the command .ci/run uses', () => {
    const ciInstall = ciCommands.filter((c) => /^npm (ci|install|i)\b/.test(c));
    assert.equal(ciInstall.length, 1, `.ci/run installs once: ${ciInstall.join(' | ')}`);
    const imageInstall = buildRuns.filter((c) => /^npm (ci|install|i)\b/.test(c));
    assert.deepEqual(imageInstall, ciInstall, 'the build stage installs with the same npm command as CI');
  });

  it('exports the same turbo/telemetry environment as .ci/run', () => {
    const ciEnv = new Set(
      [...ciScript.matchAll(/\b(TURBO_[A-Z_]+|DO_NOT_TRACK)=(\S+)/g)].map((m) => `${m[1]}=${m[2]}`),
    );
    const envLines = build.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
    for (const pair of ciEnv)
      assert.ok(
        envLines.some((l) => l.split(/\s+/).includes(pair)),
        `ENV ${pair} in the build stage`,
      );
  });

  it('builds with the root build script, which runs the same turbo `build` task CI runs before its tests', () => {
    assert.ok(buildRuns.includes('npm run build'), 'the build stage runs `npm run build`');
    assert.match(root.scripts?.['build'] ?? '', /^turbo run build\b/, 'root "build" is the turbo build task');
    const ciTest = ciCommands.find((c) => /^npm (test|run test)\b/.test(c));
    assert.ok(ciTest, '.ci/run runs npm test');
    assert.match(root.scripts?.['test'] ?? '', /^turbo run test\b/);
    assert.ok(
      turbo.tasks['test']?.dependsOn?.includes('build'),
      'turbo: test depends on build, so CI compiles with the same task',
    );
    // Order inside the stage: install, then all sources, then build.
    const order = build.instructions.map((i: Instruction) =>
      i.keyword === 'COPY' && i.args === '. .' ? 'sources' : i.keyword === 'RUN' ? runCommands(i).join(' && ') : '',
    );
    const install = order.findIndex((o) => o.startsWith('npm ci'));
    assert.ok(
      install >= 0 && install < order.indexOf('sources') && order.indexOf('sources') < order.indexOf('npm run build'),
    );
  });

  it('package-lock.json lists every optional dependency, so that npm ci (CI and the image) accepts it', () => {
    // A registry mirror without some platform builds makes `npm install` drop their entries;
    // `npm ci` then refuses the whole lock ("Missing: @turbo/darwin-64@ from lock file").
    // npm ci checks this for the direct dependencies of the root and the workspaces (a missing
    // optional dependency deeper down, under an optional parent, is tolerated).
    type Entry = {
      optionalDependencies?: Record<string, string>;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const lock = readJson<{ packages: Record<string, Entry> }>('package-lock.json');
    const keys = Object.keys(lock.packages);
    const direct = new Set<string>();
    for (const where of ['', ...(root.workspaces ?? [])]) {
      const e = lock.packages[where] ?? {};
      for (const deps of [e.dependencies, e.devDependencies, e.optionalDependencies])
        for (const n of Object.keys(deps ?? {})) direct.add(n);
    }
    const missing: string[] = [];
    for (const name of direct) {
      const entry = lock.packages[`node_modules/${name}`];
      for (const opt of Object.keys(entry?.optionalDependencies ?? {})) {
        if (!keys.some((k) => k === `node_modules/${opt}` || k.endsWith(`/node_modules/${opt}`)))
          missing.push(`${opt} (of ${name})`);
      }
    }
    assert.deepEqual(missing, [], 'add lock entries for these (optional, with their os/cpu) or npm ci fails');
  });

  it('copies every workspace manifest (and any root .npmrc) before npm ci', () => {
    const install = build.instructions.findIndex(
      (i) => i.keyword === 'RUN' && runCommands(i).some((c) => c.startsWith('npm ci')),
    );
    const copied = build.instructions
      .slice(0, install)
      .filter((i) => i.keyword === 'COPY' && !i.flags['from'])
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    const needed = ['package.json', 'package-lock.json', ...(root.workspaces ?? []).map((w) => `${w}/package.json`)];
    if (existsSync(repoPath('.npmrc'))) needed.push('.npmrc');
    for (const file of needed) assert.ok(copied.includes(file), `COPY ${file} before npm ci`);
  });

  it('the entrypoint reaches the launcher binary the launcher package declares', () => {
    const entry = readFileSync(repoPath('deploy/docker/entrypoint.sh'), 'utf8');
    assert.match(
      entry,
      /^exec yolo-launch "\$@"$/m,
      'the startup script execs yolo-launch with the arguments untouched',
    );
    const wrapper = readFileSync(repoPath('deploy/docker/yolo-launch.sh'), 'utf8');
    const target = /exec node "\$\{YOLO_APP_DIR:-([^}]+)\}\/([^"]+)" "\$@"/.exec(wrapper);
    assert.ok(target, 'yolo-launch wrapper runs node on the compiled CLI');
    assert.equal(
      target[1],
      build.instructions.find((i) => i.keyword === 'WORKDIR')?.args,
      'the wrapper looks where the build stage built',
    );

    const launcher = readJson<PackageJson>('launcher/package.json');
    const bin = typeof launcher.bin === 'string' ? launcher.bin : launcher.bin?.['yolo-launch'];
    assert.equal(`launcher/${bin?.replace(/^\.\//, '')}`, target[2], 'the wrapper runs the bin of package.json');
    // dist/src/cli.js is compiled from src/cli.ts by `tsc -b` (rootDir ".", outDir "dist").
    const source = target[2].replace(/\/dist\/src\/(.*)\.js$/, '/src/$1.ts');
    assert.ok(existsSync(repoPath(source)), `${source} exists, so the build produces ${target[2]}`);
  });
});
