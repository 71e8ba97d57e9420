// When a Compose implementation is installed (Docker Compose v2 plugin, or Debian's
// docker-compose), let it parse and interpolate both files too: `config` needs no Docker engine.
// CI machines have neither by default, so this is skipped there with the reason printed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { deployPath } from '../src/index.js';

function composeCommand(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8', timeout: 20_000 });
    if (!r.error && r.status === 0) return cmd;
  }
  return null;
}

describe('Compose itself accepts the files (when installed)', () => {
  const cmd = composeCommand();
  const cases = [
    { file: 'docker-compose.yml', envFile: null },
    { file: 'docker-compose.multinode.yml', envFile: '.env.example' },
  ];
  for (const c of cases) {
    it(`${cmd?.join(' ') ?? 'compose'} config ${c.file}`, (t) => {
      if (!cmd) {
        t.skip(
          'neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose); the schema tests still ran',
        );
        return;
      }
      const args = [...cmd.slice(1), '--project-directory', deployPath(), '-f', deployPath(c.file)];
      if (c.envFile) args.push('--env-file', deployPath(c.envFile));
      const r = spawnSync(cmd[0]!, [...args, 'config'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /driver: nvidia/);
      if (c.envFile) assert.match(r.stdout, /- --node-rank\n\s+- '0'/);
    });
  }

  it('refuses the multi-node file without deploy/.env (required variables)', (t) => {
    if (!cmd) {
      t.skip('no Compose implementation installed');
      return;
    }
    // An empty env file stands in for a missing deploy/.env (a real one may exist on a dev machine).
    const empty = path.join(mkdtempSync(path.join(tmpdir(), 'compose-env-')), 'empty.env');
    writeFileSync(empty, '');
    t.after(() => rmSync(path.dirname(empty), { recursive: true, force: true }));
    const r = spawnSync(
      cmd[0]!,
      [
        ...cmd.slice(1),
        '--project-directory',
        deployPath(),
        '--env-file',
        empty,
        '-f',
        deployPath('docker-compose.multinode.yml'),
        'config',
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /set NNODES in deploy\/\.env/);
  });
});
