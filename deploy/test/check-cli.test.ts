// `npm run check -w deploy` on the shipped recipes: every file checked, nothing reported.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { deployPath } from '../src/index.js';

describe('npm run check', () => {
  it('passes on the shipped recipes and names each file it checked', () => {
    const r = spawnSync(process.execPath, [deployPath('dist/src/check.js')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    for (const f of [
      'Dockerfile',
      'docker-compose.yml',
      'docker-compose.multinode.yml',
      'k8s/service.yaml',
      'k8s/indexed-job.yaml',
    ]) {
      assert.ok(r.stdout.includes(`deploy/${f}`), `${f} in ${r.stdout}`);
    }
  });
});
