#!/usr/bin/env node
// `npm run check -w deploy`: the same static checks the tests apply, for recipes you have edited
// for your site (another GPU count, another image, more nodes). Prints every problem and exits 1
// when there is one, 0 when all recipes pass.
import { existsSync, readFileSync } from 'node:fs';
import { checkComposeFile, type ServiceRules } from './compose-checks.js';
import { loadCompose, validateComposeSchema } from './compose.js';
import { lintDockerfile } from './dockerfile-lint.js';
import { execForm, findStage, parseDockerfile, stageVariables } from './dockerfile.js';
import { checkIndexedJob, loadManifests } from './k8s-checks.js';
import { validateK8sSchema } from './k8s-schema.js';
import { formatProblems, type Problem } from './problem.js';
import { deployPath } from './repo.js';

const TARGETS = ['cpu', 'gpu'];

export function checkAll(): { checked: string[]; problems: Problem[] } {
  const checked: string[] = [];
  const problems: Problem[] = [];

  const dockerfileText = readFileSync(deployPath('Dockerfile'), 'utf8');
  problems.push(...lintDockerfile(dockerfileText, { file: 'deploy/Dockerfile', targets: TARGETS }));
  checked.push('deploy/Dockerfile');
  const dockerfile = parseDockerfile(dockerfileText);
  const volume = findStage(dockerfile, 'gpu')
    .instructions.filter((i) => i.keyword === 'VOLUME')
    .at(-1);
  const imageVolumes = volume ? (execForm(volume) ?? volume.args.split(/\s+/)) : [];
  const stages = dockerfile.stages.map((s) => s.name).filter((n): n is string => n !== null);
  const imageEnv = stageVariables(dockerfile, findStage(dockerfile, 'gpu'));

  for (const [file, multinode] of [
    ['docker-compose.yml', false],
    ['docker-compose.multinode.yml', true],
  ] as const) {
    const path = deployPath(file);
    if (!existsSync(path)) continue;
    const doc = loadCompose(path);
    const rules: ServiceRules = { file: `deploy/${file}`, multinode, imageVolumes, stages, imageEnv };
    problems.push(...validateComposeSchema(doc, rules.file), ...checkComposeFile(doc, rules));
    checked.push(rules.file);
  }

  const manifests = ['k8s/service.yaml', 'k8s/indexed-job.yaml'].filter((f) => existsSync(deployPath(f)));
  if (manifests.length > 0) {
    const docs = loadManifests(manifests.map((f) => readFileSync(deployPath(f), 'utf8')));
    problems.push(
      ...validateK8sSchema(docs, 'deploy/k8s'),
      ...checkIndexedJob(docs, 'deploy/k8s', { imageVolumes, imageEnv }),
    );
    checked.push(...manifests.map((f) => `deploy/${f}`));
  }
  return { checked, problems };
}

const invokedAs = process.argv[1];
if (
  invokedAs &&
  import.meta.url === (await import('node:url')).pathToFileURL((await import('node:fs')).realpathSync(invokedAs)).href
) {
  const { checked, problems } = checkAll();
  if (problems.length > 0) {
    process.stderr.write(`${formatProblems(problems)}\n${problems.length} problem(s) in ${checked.length} file(s)\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`ok: ${checked.join(', ')}\n`);
  }
}
