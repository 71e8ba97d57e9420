// The Compose recipes: valid against the Compose specification's JSON schema, and fit for GPU
// training (GPUs reserved, shared memory, init and stop sequence, volumes, no secret inline).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  checkComposeFile,
  commandOf,
  deployPath,
  environmentOf,
  flagValue,
  formatProblems,
  interpolate,
  interpolations,
  isMap,
  loadCompose,
  parseEnvFile,
  strings,
  validateComposeSchema,
  type ComposeMap,
  type ServiceRules,
} from '../src/index.js';
import { gpuImageEnv, imageVolumes, stageNames } from './recipes.js';

const FILES = [
  { file: 'docker-compose.yml', multinode: false },
  { file: 'docker-compose.multinode.yml', multinode: true },
] as const;

function rules(file: string, multinode: boolean): ServiceRules {
  return { file, multinode, imageVolumes: imageVolumes('gpu'), stages: stageNames, imageEnv: gpuImageEnv };
}

/** A deep copy to break on purpose. */
function clone(doc: ComposeMap): ComposeMap {
  return structuredClone(doc);
}
function service(doc: ComposeMap): ComposeMap {
  const services = doc['services'] as ComposeMap;
  return services[Object.keys(services)[0]!] as ComposeMap;
}

for (const { file, multinode } of FILES) {
  describe(file, () => {
    const doc = loadCompose(deployPath(file));

    it('is valid against the Compose specification schema', () => {
      const problems = validateComposeSchema(doc, file);
      assert.deepEqual(problems, [], formatProblems(problems));
    });

    it('passes our GPU-training checks', () => {
      const problems = checkComposeFile(doc, rules(file, multinode));
      assert.deepEqual(problems, [], formatProblems(problems));
    });

    it('keeps the CUDA JIT cache on a volume, at 4 GiB, with memory growth; the checks catch each omission', () => {
      const env = service(doc)['environment'] as ComposeMap;
      assert.equal(env['CUDA_CACHE_PATH'], '/workspace/cache/cuda');
      assert.equal(env['CUDA_CACHE_MAXSIZE'], '4294967296');
      assert.ok((service(doc)['volumes'] as string[]).includes('${YOLO_CUDA_CACHE:-cuda-cache}:/workspace/cache'));
      assert.ok(
        Object.hasOwn(doc['volumes'] as ComposeMap, 'cuda-cache'),
        'a named volume: it outlives the containers',
      );

      const problems = (mutate: (s: ComposeMap) => void, imageEnv = new Map<string, string | null>()): string[] => {
        const broken = clone(doc);
        mutate(service(broken));
        return checkComposeFile(broken, { ...rules(file, multinode), imageEnv }).map((p) => `${p.rule}: ${p.message}`);
      };
      const noVolume = problems(
        (s) => (s['volumes'] = (s['volumes'] as string[]).filter((v) => !v.endsWith(':/workspace/cache'))),
      );
      assert.ok(
        noVolume.some((m) =>
          /^jit-cache: .*CUDA_CACHE_PATH=\/workspace\/cache\/cuda is not on a persistent volume/.test(m),
        ),
        noVolume.join('\n'),
      );
      const tmpfs = problems(
        (s) =>
          (s['volumes'] = [
            ...(s['volumes'] as string[]).filter((v) => !v.endsWith(':/workspace/cache')),
            { type: 'tmpfs', target: '/workspace/cache' },
          ]),
      );
      assert.ok(
        tmpfs.some((m) => /not on a persistent volume/.test(m)),
        'tmpfs is gone with the container',
      );
      const small = problems((s) => ((s['environment'] as ComposeMap)['CUDA_CACHE_MAXSIZE'] = '268435456'));
      assert.ok(small.some((m) => /^jit-cache: .*CUDA_CACHE_MAXSIZE must be/.test(m)));
      const bare = problems((s) => {
        const e = s['environment'] as ComposeMap;
        for (const k of ['CUDA_CACHE_PATH', 'CUDA_CACHE_MAXSIZE', 'TF_FORCE_GPU_ALLOW_GROWTH']) delete e[k];
      });
      assert.ok(bare.some((m) => /set CUDA_CACHE_PATH/.test(m)) && bare.some((m) => /^gpu-memory: /.test(m)));
      const fromImage = problems((s) => {
        const e = s['environment'] as ComposeMap;
        for (const k of ['CUDA_CACHE_PATH', 'CUDA_CACHE_MAXSIZE', 'TF_FORCE_GPU_ALLOW_GROWTH']) delete e[k];
      }, gpuImageEnv);
      assert.deepEqual(fromImage, [], "the image's ENV counts");
    });

    it('uses only well-formed interpolation', () => {
      for (const [, s] of strings(doc)) assert.doesNotThrow(() => interpolations(s), s);
    });

    it('the checks catch a missing GPU reservation, 64 MB shm, no init, a short grace and an inline token', () => {
      const broken = clone(doc);
      const s = service(broken);
      delete s['deploy'];
      delete s['ipc'];
      s['shm_size'] = '64m';
      delete s['init'];
      s['stop_grace_period'] = '10s';
      s['environment'] = { ...(s['environment'] as ComposeMap), YOLO_LAUNCH_TOKEN: 'hunter2' };
      const found = new Set(checkComposeFile(broken, rules(file, multinode)).map((p) => p.rule));
      for (const rule of ['gpu', 'shm', 'init', 'stop', 'secret'])
        assert.ok(found.has(rule), `${rule} in ${[...found].join(', ')}`);
    });

    it('the schema rejects what Compose would reject (a misspelt key, a bad duration)', () => {
      const broken = clone(doc);
      const s = service(broken);
      s['stop_grace_period'] = 'two minutes';
      s['shm-size'] = '8gb';
      const messages = validateComposeSchema(broken, file)
        .map((p) => p.message)
        .join('\n');
      assert.match(messages, /additional properties \(shm-size\)/);
      assert.match(messages, /stop_grace_period must match format "duration"/);
    });
  });
}

describe('docker-compose.yml (one server)', () => {
  const doc = loadCompose(deployPath('docker-compose.yml'));
  it('runs `yolo-launch --nproc gpu train ...` and needs no .env', () => {
    const command = commandOf(service(doc))!;
    assert.deepEqual(command.slice(0, 1), ['yolo-launch']);
    assert.equal(flagValue(command.slice(0, command.indexOf('train')), '--nproc'), 'gpu');
    for (const [, s] of strings(doc)) {
      for (const ref of interpolations(s)) assert.ok(ref.operator === ':-', `${ref.name} has a default`);
    }
  });
});

describe('docker-compose.multinode.yml with deploy/.env', () => {
  const doc = loadCompose(deployPath('docker-compose.multinode.yml'));
  const example = parseEnvFile(readFileSync(deployPath('.env.example'), 'utf8'));

  it('.env.example sets every variable the file requires, and no secret', () => {
    const required = new Set<string>();
    for (const [, s] of strings(doc)) {
      for (const ref of interpolations(s))
        if (ref.operator === '' || ref.operator.includes('?')) required.add(ref.name);
    }
    assert.ok(required.has('NODE_RANK') && required.has('MASTER_ADDR') && required.has('YOLO_SOCKET_IFNAME'));
    for (const name of required) assert.ok(example.get(name), `${name} in .env.example`);
    for (const name of example.keys())
      assert.ok(!/TOKEN$|SECRET|PASSWORD/.test(name), `${name}: secrets go in secrets/, not .env`);
  });

  it('resolves with .env.example into a consistent node-launcher command', () => {
    const resolve = (s: string): string => interpolate(s, example);
    const command = commandOf(service(doc))!.map(resolve);
    const nnodes = Number(flagValue(command, '--nnodes'));
    const nodeRank = Number(flagValue(command, '--node-rank'));
    assert.ok(Number.isInteger(nnodes) && nnodes >= 2, `--nnodes ${nnodes}`);
    assert.ok(Number.isInteger(nodeRank) && nodeRank >= 0 && nodeRank < nnodes, `--node-rank ${nodeRank}`);
    assert.match(flagValue(command, '--master-port')!, /^\d+$/);
    const env = environmentOf(service(doc));
    assert.equal(resolve(env.get('YOLO_SOCKET_IFNAME')!), example.get('YOLO_SOCKET_IFNAME'));
    const secrets = doc['secrets'] as ComposeMap;
    const token = secrets['yolo_launch_token'];
    assert.ok(isMap(token));
    assert.equal(resolve(String(token['file'])), './secrets/yolo_launch_token');
  });

  it('refuses to start without NODE_RANK (required interpolation)', () => {
    const withoutRank = new Map(example);
    withoutRank.delete('NODE_RANK');
    assert.throws(() => commandOf(service(doc))!.map((s) => interpolate(s, withoutRank)), /NODE_RANK/);
  });

  it('keeps the per-site files out of git', () => {
    const ignored = readFileSync(deployPath('.gitignore'), 'utf8').split('\n');
    for (const entry of ['.env', 'secrets/']) assert.ok(ignored.includes(entry), `deploy/.gitignore lists ${entry}`);
  });
});
