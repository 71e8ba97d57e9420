// deploy/Dockerfile: linted, and checked for what the images promise (CUDA 11.2 + cuDNN 8 for
// tfjs-node-gpu 4.x, Node 20, npm 11 with the install script approved, non-root, volumes,
// the startup script as entrypoint, a CPU target on wasm).
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  effective,
  execForm,
  findStage,
  formatProblems,
  lintDockerfile,
  repoPath,
  runCommands,
  stageVariables,
} from '../src/index.js';
import {
  dockerfile,
  dockerfileText,
  DOCKERFILE,
  imageVolumes,
  readJson,
  TARGETS,
  type PackageJson,
} from './recipes.js';

describe('Dockerfile lint', () => {
  it('deploy/Dockerfile has no lint problems (dockerfile-utils + hadolint-style rules)', () => {
    const problems = lintDockerfile(dockerfileText, { file: DOCKERFILE, targets: [...TARGETS] });
    assert.deepEqual(problems, [], formatProblems(problems));
  });

  it('the linter reports each rule on a Dockerfile that breaks them', () => {
    const bad = [
      'FROM ubuntu',
      'FROM node:latest AS base',
      'ENV API_TOKEN=abc123',
      'RUN apt-get install python3',
      'RUN sudo make install && cd /src',
      'RUN npm install left-pad',
      'ADD ./src /src',
      'COPY --from=nowhere /x /x',
      'WORKDIR relative/dir',
      'ENTRYPOINT node server.js',
      'FROBNICATE now',
    ].join('\n');
    const rules = new Set(lintDockerfile(bad, { targets: ['base'] }).map((p) => p.rule));
    for (const rule of [
      'DL3006',
      'DL3007',
      'YL-SECRET',
      'DL3015',
      'DL3014',
      'DL3009',
      'DL3004',
      'DL3003',
      'DL3016',
      'DL3020',
      'DL3022',
      'DL3002',
      'DL3025',
    ]) {
      assert.ok(rules.has(rule), `expected ${rule} in ${[...rules].join(', ')}`);
    }
    assert.ok(
      [...rules].some((r) => r.startsWith('dockerfile-utils:')),
      'dockerfile-utils flags the unknown instruction and relative WORKDIR',
    );
  });
});

describe('Dockerfile images', () => {
  it('the gpu target runs on a CUDA 11.2 + cuDNN 8 runtime (what tfjs-node-gpu 4.x / libtensorflow 2.9 need)', () => {
    const gpu = findStage(dockerfile, 'gpu');
    const chain: string[] = [];
    for (let s: typeof gpu | undefined = gpu; s; s = s.baseStage ? findStage(dockerfile, s.baseStage) : undefined)
      chain.push(s.base);
    const image = chain.at(-1)!;
    assert.match(image, /^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu\d+\.\d+$/, `gpu base ${image}`);
  });

  it('Node 20 and the npm CI uses (packageManager) in every stage', () => {
    const root = readJson<PackageJson>('package.json');
    const node = findStage(dockerfile, 'nodejs');
    assert.match(node.base, /^node:20\.\d+\.\d+-/, 'a pinned Node 20 image');
    const nodeVersion = node.base.slice('node:'.length).split('-')[0]!;
    const minimum = /(\d+)\.(\d+)/.exec(root.engines?.['node'] ?? '')!;
    const [, minor] = nodeVersion.split('.').map(Number) as [number, number];
    assert.ok(minor >= Number(minimum[2]), `node ${nodeVersion} satisfies engines.node ${root.engines?.['node']}`);
    const npm = stageVariables(dockerfile, node).get('NPM_VERSION');
    assert.equal(`npm@${npm}`, root.packageManager, 'the image installs the npm of packageManager');
    // The CUDA stages take node and npm from that stage.
    const cudaNode = findStage(dockerfile, 'cuda-node');
    const copies = cudaNode.instructions
      .filter((i) => i.keyword === 'COPY' && i.flags['from'] === 'nodejs')
      .map((i) => i.args);
    assert.ok(
      copies.some((a) => a.startsWith('/usr/local/bin/node ')) && copies.some((a) => a.includes('node_modules/npm')),
    );
    // ... and drops the NVIDIA apt sources before any stage on it runs apt-get update.
    const first = cudaNode.instructions.find((i) => i.keyword === 'RUN');
    assert.ok(
      first &&
        runCommands(first)[0] === 'rm -f /etc/apt/sources.list.d/cuda*.list /etc/apt/sources.list.d/nvidia-ml*.list',
    );
  });

  it('installs the optional tfjs-node-gpu at the tfjs version in use, approves its install script and runs it', () => {
    const stage = findStage(dockerfile, 'gpu-build');
    const vars = stageVariables(dockerfile, stage);
    const version = vars.get('TFJS_VERSION');
    const core = readJson<PackageJson>('node_modules/@tensorflow/tfjs-core/package.json');
    assert.equal(
      version,
      core.version,
      'tfjs-node-gpu must match the installed tfjs-core (one tfjs, one kernel registry)',
    );
    const backend = readJson<PackageJson>('packages/backend/package.json');
    assert.ok(backend.peerDependencies?.['@tensorflow/tfjs-node-gpu'], 'backend declares tfjs-node-gpu as a peer');
    assert.equal(
      backend.peerDependenciesMeta?.['@tensorflow/tfjs-node-gpu']?.optional,
      true,
      '... an optional one (CI installs without it)',
    );

    const commands = stage.instructions.filter((i) => i.keyword === 'RUN').flatMap(runCommands);
    const at = (re: RegExp): number => commands.findIndex((c) => re.test(c));
    const install = at(/^npm install --no-save --ignore-scripts .*"?@tensorflow\/tfjs-node-gpu@\$\{TFJS_VERSION\}"?$/);
    const approve = at(/^npm install-scripts approve @tensorflow\/tfjs-node-gpu$/);
    const rebuild = at(/^npm rebuild --strict-allow-scripts @tensorflow\/tfjs-node-gpu$/);
    const verify = at(/^ls .*tfjs_binding\.node .*libtensorflow\.so\.2$/);
    assert.ok(
      install >= 0 && approve > install && rebuild > approve && verify > rebuild,
      `install → approve → rebuild → verify, got:\n${commands.join('\n')}`,
    );
  });

  for (const target of TARGETS) {
    it(`the ${target} target: non-root, startup script as entrypoint, volumes, stop signal, backend`, () => {
      const stage = findStage(dockerfile, target);
      const user = effective(dockerfile, stage, 'USER')?.args.trim();
      assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
      const useradd = stage.instructions
        .filter((i) => i.keyword === 'RUN')
        .flatMap(runCommands)
        .find((c) => c.startsWith('useradd'));
      assert.ok(useradd?.endsWith(` ${user}`), `the ${user} user is created in this stage`);

      const entrypoint = execForm(effective(dockerfile, stage, 'ENTRYPOINT')!);
      assert.deepEqual(entrypoint, ['/usr/local/bin/yolo-entrypoint']);
      const copies = stage.instructions.filter((i) => i.keyword === 'COPY' && !i.flags['from']);
      for (const [source, dest] of [
        ['deploy/docker/entrypoint.sh', '/usr/local/bin/yolo-entrypoint'],
        ['deploy/docker/yolo-launch.sh', '/usr/local/bin/yolo-launch'],
      ] as const) {
        const copy = copies.find((c) => c.args === `${source} ${dest}`);
        assert.ok(copy, `COPY ${source} ${dest}`);
        assert.equal(copy.flags['chmod'], '0755');
        assert.ok(
          existsSync(repoPath(source)) && (statSync(repoPath(source)).mode & 0o111) !== 0,
          `${source} exists and is executable`,
        );
      }
      const cache = target === 'gpu' ? ['/workspace/cache'] : [];
      assert.deepEqual(imageVolumes(target), ['/workspace/datasets', '/workspace/train/runs', ...cache]);
      assert.equal(
        effective(dockerfile, stage, 'WORKDIR')?.args,
        '/workspace/train',
        'runs/ of the trainer lands in the runs volume',
      );
      assert.equal(effective(dockerfile, stage, 'STOPSIGNAL')?.args, 'SIGTERM');
      assert.equal(stageVariables(dockerfile, stage).get('YOLO_BACKEND'), target === 'gpu' ? 'tensorflow' : 'wasm');
      // The app the wrapper runs is what the build stage built.
      const appCopy = stage.instructions.find(
        (i) => i.keyword === 'COPY' && i.flags['from'] && i.args === '/opt/yolo-launch /opt/yolo-launch',
      );
      assert.ok(appCopy, 'copies /opt/yolo-launch from a build stage');
    });
  }

  it('the gpu image keeps the CUDA JIT cache in its volume at 4 GiB, writable by any uid, and grows GPU memory', () => {
    const gpu = findStage(dockerfile, 'gpu');
    const vars = stageVariables(dockerfile, gpu);
    const cachePath = vars.get('CUDA_CACHE_PATH')!;
    assert.ok(
      imageVolumes('gpu').some((v) => cachePath.startsWith(`${v}/`)),
      `CUDA_CACHE_PATH=${cachePath} lies in a VOLUME`,
    );
    assert.equal(vars.get('CUDA_CACHE_MAXSIZE'), String(4 * 1024 ** 3));
    assert.equal(vars.get('TF_FORCE_GPU_ALLOW_GROWTH'), 'true');
    const commands = gpu.instructions.filter((i) => i.keyword === 'RUN').flatMap(runCommands);
    assert.ok(
      commands.includes(`mkdir -p ${cachePath}`) &&
        commands.some((c) => c.startsWith('chmod 1777 ') && c.includes(cachePath)),
      'created world-writable (sticky): compose runs the image as the host uid, and a new named volume copies these permissions',
    );
  });

  it('the gpu build fails unless the binding loads through the selection a worker makes (doctor, on the CPU)', () => {
    const stage = findStage(dockerfile, 'gpu-build');
    const commands = stage.instructions.filter((i) => i.keyword === 'RUN').flatMap(runCommands);
    const rebuild = commands.indexOf('npm rebuild --strict-allow-scripts @tensorflow/tfjs-node-gpu');
    const doctor = commands.indexOf(
      'node launcher/bin/yolo-launch.js doctor --backend tensorflow --device cpu --no-bench',
    );
    assert.ok(rebuild >= 0 && doctor > rebuild, commands.join('\n'));
  });

  it('nothing secret is baked in: no ARG/ENV carries a token', () => {
    for (const stage of dockerfile.stages) {
      for (const [k, v] of stageVariables(dockerfile, stage)) {
        assert.ok(!/TOKEN|SECRET|PASSWORD/i.test(k) || !v, `${stage.name}: ${k}`);
      }
    }
  });
});
