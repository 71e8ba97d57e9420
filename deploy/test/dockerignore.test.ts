// The root .dockerignore: the build context keeps every source the image builds from and drops
// host builds, installs, data and secrets.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isIgnored, parseDockerignore, repoPath, repoRoot } from '../src/index.js';
import { dockerfile } from './recipes.js';

const rules = parseDockerignore(readFileSync(repoPath('.dockerignore'), 'utf8'));

function trackedFiles(): string[] | null {
  try {
    return execFileSync('git', ['ls-files'], { cwd: repoRoot, encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return null;
  }
}

describe('.dockerignore', () => {
  it('matches like Docker: ** spans folders, ! re-includes, a folder takes its contents', () => {
    const r = parseDockerignore('**/node_modules\n/datasets\n**/.env.*\n!**/.env.example\n*.md\n');
    assert.ok(isIgnored(r, 'node_modules/ajv/package.json'));
    assert.ok(isIgnored(r, 'packages/comm/node_modules/x/index.js'));
    assert.ok(isIgnored(r, 'datasets/coco128/images/a.jpg'));
    assert.ok(!isIgnored(r, 'packages/datasets.ts'));
    assert.ok(isIgnored(r, 'deploy/.env.local'));
    assert.ok(!isIgnored(r, 'deploy/.env.example'));
    assert.ok(
      isIgnored(r, 'README.md') && !isIgnored(r, 'docs/README.md'),
      'without ** a pattern is anchored at the root',
    );
  });

  it('leaves out host installs and builds, VCS, data, results and secrets', () => {
    for (const path of [
      'node_modules/zeromq/build/Release/zeromq.node',
      'packages/comm/dist/src/index.js',
      'packages/comm/dist/tsconfig.tsbuildinfo',
      'launcher/dist/src/cli.js',
      '.git/HEAD',
      '.turbo/cookies/1.cookie',
      'datasets/coco128/images/train2017/000000000009.jpg',
      'runs/train/exp/weights/last.ckpt',
      'deploy/.env',
      'deploy/secrets/yolo_launch_token',
      'bench-results/backend.json',
    ]) {
      assert.ok(isIgnored(rules, path), `${path} must not be sent to the builder`);
    }
  });

  it('keeps every file the Dockerfile copies and every tracked source the build needs', () => {
    const sources = dockerfile.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.flags['from'])
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
      .filter((p) => p !== '.');
    for (const path of sources) assert.ok(!isIgnored(rules, path), `COPY ${path} is in the context`);

    const tracked = trackedFiles();
    if (!tracked) return; // not a git checkout: the fixed list above still ran
    // Everything tracked goes in (model YAMLs, hyperparameters and other runtime data included),
    // except documentation and the deploy recipes that are not part of the image.
    const droppable = /\.md$|(^|\/)\.gitignore$|^\.git|^deploy\/k8s\/|^bench-results\//;
    assert.ok(tracked.length > 20, `found ${tracked.length} tracked files`);
    const dropped = tracked.filter((f) => isIgnored(rules, f) && !droppable.test(f));
    assert.deepEqual(dropped, [], 'tracked files left out of the build context');
  });
});
