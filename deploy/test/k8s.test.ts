// deploy/k8s: parsed with js-yaml and checked for what the launcher reads in a Kubernetes
// Indexed Job: JOB_COMPLETION_INDEX as the node rank with --nnodes (the world size) passed in,
// a master address the headless Service resolves, GPU limits, /dev/shm, the token from a Secret.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkIndexedJob, deployPath, formatProblems, loadManifests, validateK8sSchema } from '../src/index.js';
import { gpuImageEnv, imageVolumes } from './recipes.js';

const FILES = ['k8s/service.yaml', 'k8s/indexed-job.yaml'];
const texts = FILES.map((f) => readFileSync(deployPath(f), 'utf8'));
const rules = { imageVolumes: imageVolumes('gpu'), imageEnv: gpuImageEnv };

// test-local: manifests are mutated freely below
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

function fresh(): Obj[] {
  return loadManifests(texts) as Obj[];
}
function container(docs: Obj[]): Obj {
  return docs.find((d) => d['kind'] === 'Job')!['spec']['template']['spec']['containers'][0];
}

describe('Kubernetes Indexed Job', () => {
  it('both manifests parse, with the expected kinds', () => {
    assert.deepEqual(
      fresh().map((d) => `${d['apiVersion']}/${d['kind']}`),
      ['v1/Service', 'batch/v1/Job'],
    );
  });

  it('both manifests are valid against the Kubernetes API schemas (kubernetes-models)', () => {
    const problems = validateK8sSchema(fresh(), 'deploy/k8s');
    assert.deepEqual(problems, [], formatProblems(problems));
  });

  it('the schema rejects a wrong enum, a non-integer count and a bad GPU quantity', () => {
    const docs = fresh();
    const job = docs.find((d) => d['kind'] === 'Job')!;
    job['spec']['completionMode'] = 'Indexd';
    job['spec']['parallelism'] = '2';
    container(docs)['resources']['limits']['nvidia.com/gpu'] = 'eight';
    const messages = validateK8sSchema(docs, 'k')
      .map((p) => p.message)
      .join('\n');
    assert.match(messages, /spec\/completionMode must be equal to one of the allowed values/);
    assert.match(messages, /spec\/parallelism must be integer/);
    assert.match(messages, /nvidia\.com~1gpu must match format "quantity"/);
  });

  it('passes the launcher-facing checks', () => {
    const problems = checkIndexedJob(fresh(), 'deploy/k8s', rules);
    assert.deepEqual(problems, [], formatProblems(problems));
  });

  it('catches a world size that disagrees with the Job, a missing GPU limit, a literal token and an undefined $(VAR)', () => {
    const docs = fresh();
    const job = docs.find((d) => d['kind'] === 'Job')!;
    job['spec']['completions'] = 3;
    const c = container(docs);
    delete c['resources']['limits']['nvidia.com/gpu'];
    c['env'].push({ name: 'YOLO_LAUNCH_TOKEN', value: 'hunter2' });
    c['args'].push('--log-dir', '$(LOG_DIR)');
    const found = checkIndexedJob(docs, 'k', rules).map((p) => p.rule);
    for (const rule of ['world-size', 'gpu', 'secret', 'args'])
      assert.ok(found.includes(rule), `${rule} in ${found.join(', ')}`);
  });

  it('catches a master address the Service does not resolve and a Service that is not headless', () => {
    const docs = fresh();
    const c = container(docs);
    c['env'].find((e: Obj) => e['name'] === 'MASTER_ADDR')['value'] = 'yolo-train';
    delete docs.find((d) => d['kind'] === 'Service')!['spec']['clusterIP'];
    const found = checkIndexedJob(docs, 'k', rules)
      .map((p) => p.message)
      .join('\n');
    assert.match(found, /MASTER_ADDR must be pod 0's name yolo-train-0\.yolo-train/);
    assert.match(found, /headless/);
  });

  it('keeps the CUDA JIT cache on a claim, one directory per node; an emptyDir or a small cache is caught', () => {
    const docs = fresh();
    const env = new Map((container(docs)['env'] as Obj[]).map((e) => [e['name'], e]));
    assert.equal(env.get('CUDA_CACHE_PATH')?.['value'], '/workspace/cache/cuda/$(NODE_NAME)');
    const names = [...env.keys()];
    assert.ok(
      names.indexOf('NODE_NAME') < names.indexOf('CUDA_CACHE_PATH'),
      'Kubernetes expands $(VAR) only from earlier entries',
    );
    assert.equal(env.get('NODE_NAME')?.['valueFrom']?.['fieldRef']?.['fieldPath'], 'spec.nodeName');

    const onEmptyDir = fresh();
    const pod = onEmptyDir.find((d) => d['kind'] === 'Job')!['spec']['template']['spec'];
    pod['volumes'] = (pod['volumes'] as Obj[]).map((v) =>
      v['name'] === 'cuda-cache' ? { name: 'cuda-cache', emptyDir: {} } : v,
    );
    const messages = checkIndexedJob(onEmptyDir, 'k', { imageVolumes: imageVolumes('gpu') })
      .map((p) => p.message)
      .join('\n');
    assert.match(messages, /CUDA_CACHE_PATH=\/workspace\/cache\/cuda\/\$\(NODE_NAME\) is not on a persistent volume/);

    const small = fresh();
    (container(small)['env'] as Obj[]).find((e) => e['name'] === 'CUDA_CACHE_MAXSIZE')!['value'] = '1073741824';
    assert.match(
      checkIndexedJob(small, 'k', rules)
        .map((p) => p.message)
        .join('\n'),
      /CUDA_CACHE_MAXSIZE must be/,
    );
  });
});
