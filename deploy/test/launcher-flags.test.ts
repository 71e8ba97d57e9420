// Every launcher option the recipes pass must be one yolo-launch has (its OPTIONS table, the
// one its command line is built from), so a renamed flag breaks here and not on a GPU cluster.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { OPTIONS } from 'yolo-launch';
import { commandOf, deployPath, loadCompose, loadManifests, type ComposeMap } from '../src/index.js';

function launcherFlags(command: readonly string[]): string[] {
  const args = command.slice(command[0] === 'yolo-launch' ? 1 : 0, command.indexOf('train'));
  return args.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!);
}

const recipes: { name: string; command: string[] }[] = [];
for (const file of ['docker-compose.yml', 'docker-compose.multinode.yml']) {
  const services = loadCompose(deployPath(file))['services'] as ComposeMap;
  for (const [name, service] of Object.entries(services))
    recipes.push({ name: `${file} ${name}`, command: commandOf(service as ComposeMap)! });
}
const job = loadManifests([readFileSync(deployPath('k8s/indexed-job.yaml'), 'utf8')])[0] as {
  spec: { template: { spec: { containers: { args: string[] }[] } } };
};
recipes.push({ name: 'k8s/indexed-job.yaml', command: job.spec.template.spec.containers[0]!.args });

describe('launcher options in the recipes', () => {
  for (const r of recipes) {
    it(`${r.name}: every launcher flag exists`, () => {
      const flags = launcherFlags(r.command);
      assert.ok(flags.includes('nproc'), 'passes --nproc');
      for (const f of flags)
        assert.ok(f in OPTIONS, `--${f} is not a yolo-launch option (known: ${Object.keys(OPTIONS).join(', ')})`);
    });
  }

  it("the hostfile example's flags exist too", () => {
    const text = readFileSync(deployPath('hostfile.example'), 'utf8');
    for (const m of text.matchAll(/yolo-launch((?: --?[a-z-]+(?: [^\s-]\S*)?)+)/g)) {
      for (const f of m[1]!.match(/--[a-z-]+/g) ?? []) assert.ok(f.slice(2) in OPTIONS, f);
    }
  });
});
