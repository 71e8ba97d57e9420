// deploy/hostfile.example must be a hostfile the launcher accepts, and the --include /
// --exclude examples in its comments must select what they say.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseHostfile, selectHosts } from 'yolo-launch';
import { deployPath } from '../src/index.js';

const text = readFileSync(deployPath('hostfile.example'), 'utf8');

describe('hostfile.example', () => {
  it("parses with the launcher's DeepSpeed-format parser", () => {
    const hosts = parseHostfile(text, 'deploy/hostfile.example');
    assert.deepEqual(
      hosts.map((h) => [h.host, h.slots]),
      [
        ['gpu-node-1', 8],
        ['gpu-node-2', 8],
      ],
    );
  });

  it('the --include / --exclude examples in its comments work on it', () => {
    const hosts = parseHostfile(text);
    const examples = [...text.matchAll(/--(include|exclude) (\S+)/g)].map((m) => [m[1]!, m[2]!] as const);
    assert.equal(examples.length, 2);
    for (const [kind, spec] of examples) {
      // Hosts named only in comments (gpu-node-3) are not in the file: add it as the comment says.
      const all = [...hosts, { ...hosts[0]!, host: 'gpu-node-3', slots: 4 }];
      const selected = kind === 'include' ? selectHosts(all, spec) : selectHosts(all, undefined, spec);
      assert.ok(selected.length > 0, `${kind} ${spec}`);
      if (kind === 'include')
        assert.deepEqual(
          selected.map((s) => [s.host, s.slots.length]),
          [
            ['gpu-node-1', 2],
            ['gpu-node-2', 8],
          ],
        );
      else assert.ok(!selected.some((s) => s.host === 'gpu-node-3'));
    }
  });
});
