// The train options every recipe passes must be ones the trainer accepts (parsed and checked by
// @yolo-launch/train itself), for the world size that recipe runs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseTrainArgs, validateStatic } from '@yolo-launch/train';
import {
  commandOf,
  deployPath,
  flagValue,
  interpolate,
  loadCompose,
  loadManifests,
  parseEnvFile,
  type ComposeMap,
} from '../src/index.js';

/** GPUs per node assumed where the recipe says `--nproc gpu` (the k8s limit when it is given). */
const GPUS_PER_NODE = 8;

function trainArgs(command: readonly string[]): string[] {
  return command.slice(command.indexOf('train') + 1);
}

function composeCommand(file: string): string[] {
  const doc = loadCompose(deployPath(file));
  const services = doc['services'] as ComposeMap;
  const env = parseEnvFile(readFileSync(deployPath('.env.example'), 'utf8'));
  return commandOf(services[Object.keys(services)[0]!] as ComposeMap)!.map((s) => interpolate(s, env));
}

describe('train options in the recipes', () => {
  const cases: { name: string; command: string[]; worldSize: number }[] = [];
  const single = composeCommand('docker-compose.yml');
  cases.push({ name: 'docker-compose.yml', command: single, worldSize: GPUS_PER_NODE });
  const multi = composeCommand('docker-compose.multinode.yml');
  cases.push({
    name: 'docker-compose.multinode.yml',
    command: multi,
    worldSize: Number(flagValue(multi, '--nnodes')) * GPUS_PER_NODE,
  });
  const job = loadManifests([readFileSync(deployPath('k8s/indexed-job.yaml'), 'utf8')])[0] as {
    spec: {
      completions: number;
      template: { spec: { containers: { args: string[]; resources: { limits: Record<string, number> } }[] } };
    };
  };
  const container = job.spec.template.spec.containers[0]!;
  cases.push({
    name: 'k8s/indexed-job.yaml',
    command: container.args,
    worldSize: job.spec.completions * container.resources.limits['nvidia.com/gpu']!,
  });

  for (const c of cases) {
    it(`${c.name}: the trainer accepts its options for ${c.worldSize} ranks`, () => {
      const { options, help } = parseTrainArgs(trainArgs(c.command));
      assert.equal(help, false);
      assert.doesNotThrow(() => validateStatic(options, c.worldSize));
      assert.equal(options.cfg, 'yolov5s.yaml');
      assert.equal(
        options.data,
        '../datasets/coco128.yaml',
        'relative to the image WORKDIR /workspace/train: the datasets volume',
      );
      assert.equal(
        options.batch_size % c.worldSize,
        0,
        '--batch-size is the total over all ranks, a multiple of the world size',
      );
    });
  }
});
