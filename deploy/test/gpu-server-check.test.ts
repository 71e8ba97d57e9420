// deploy/gpu-server-check.sh, the fresh-GPU-server walkthrough: syntax (bash -n, and shellcheck
// when installed), then run for real by bash with stand-ins on PATH for nvidia-smi, docker,
// curl and unzip, so each step, its order, its arguments and its failures are checked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import yaml from 'js-yaml';
import { repoPath } from '../src/index.js';

const SCRIPT = repoPath('deploy/gpu-server-check.sh');

const STUBS: Record<string, string> = {
  'nvidia-smi': `#!/bin/sh
i=0; while [ "$i" -lt "\${STUB_GPUS:-2}" ]; do echo "$i, NVIDIA H100 80GB HBM3, \${STUB_DRIVER:-535.104.05}"; i=$((i + 1)); done
`,
  docker: `#!/bin/sh
echo "docker $*" >> "$STUB_LOG"
case "$*" in
  info) exit 0 ;;
  --version) echo "Docker version 27.3.1" ;;
  "compose version") echo "Docker Compose version v2.29.7" ;;
  "run --rm --gpus all "*) echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)"; echo "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)" ;;
  *" build") exit 0 ;;
  *" doctor --device gpu") echo "OK: this machine can run"; exit "\${STUB_DOCTOR:-0}" ;;
  *" train "*)
    echo "[rank0]: [backend] backend: @tensorflow/tfjs-node-gpu (CUDA GPU) [requested tensorflow]"
    echo "[rank1]: [backend] backend: @tensorflow/tfjs-node-gpu (CUDA GPU) [requested tensorflow]"
    mkdir -p "$YOLO_RUNS/train/gpu-server-check"
    printf 'epoch,metrics/mAP_0.5\\n0,0.0123\\n' > "$YOLO_RUNS/train/gpu-server-check/results.csv" ;;
  *) echo "unexpected docker call: $*" >&2; exit 99 ;;
esac
`,
  curl: `#!/bin/sh
echo "curl $*" >> "$STUB_LOG"
while [ $# -gt 0 ]; do [ "$1" = -o ] && { echo zip > "$2"; }; shift; done
`,
  unzip: `#!/bin/sh
echo "unzip $*" >> "$STUB_LOG"
mkdir -p "$5/coco128/images/train2017" "$5/coco128/labels/train2017"
touch "$5/coco128/images/train2017/000000000009.jpg"
`,
};

let dir = '';

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gpu-server-check-'));
  mkdirSync(path.join(dir, 'bin'));
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(path.join(dir, 'bin', name), body);
    chmodSync(path.join(dir, 'bin', name), 0o755);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string; calls: string[]; data: string } {
  const work = mkdtempSync(path.join(dir, 'run-'));
  const log = path.join(work, 'calls.log');
  writeFileSync(log, '');
  const data = path.join(work, 'datasets');
  const r = spawnSync('bash', [SCRIPT, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: `${path.join(dir, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      HOME: work,
      STUB_LOG: log,
      YOLO_DATASETS: data,
      YOLO_RUNS: path.join(work, 'runs'),
      ...env,
    },
  });
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    calls: readFileSync(log, 'utf8').split('\n').filter(Boolean),
    data,
  };
}

describe('deploy/gpu-server-check.sh', () => {
  it('is valid bash (and clean under shellcheck where it is installed)', () => {
    const syntax = spawnSync('bash', ['-n', SCRIPT], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    const shellcheck = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    if (shellcheck.error === undefined) assert.equal(shellcheck.status, 0, shellcheck.stdout);
  });

  it('walks driver, Docker, toolkit, build, doctor, coco128 and the 2-GPU epoch, in that order', () => {
    const r = run([]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /ok: driver 535\.104\.05, 2 GPU\(s\)/);
    assert.match(r.stdout, /PASS: this server trains yolo-launch on GPUs 0,1/);
    const compose = `docker compose -f ${repoPath('deploy/docker-compose.yml')}`;
    assert.deepEqual(
      r.calls.filter((c) => !/^docker (info|--version|compose version)$/.test(c)),
      [
        'docker run --rm --gpus all nvidia/cuda:11.2.2-base-ubuntu20.04 nvidia-smi -L',
        `${compose} build`,
        `${compose} run --rm train yolo-launch doctor --device gpu`,
        `curl -fsSL -o ${r.data}/coco128.zip https://ultralytics.com/assets/coco128.zip`,
        `unzip -q -o ${r.data}/coco128.zip -d ${r.data}`,
        `${compose} run --rm -e CUDA_VISIBLE_DEVICES=0,1 train yolo-launch --nproc 2 train --data ../datasets/coco128.yaml --cfg yolov5s.yaml --img 640 --batch-size 32 --epochs 1 --name gpu-server-check --exist-ok`,
      ],
    );
    const dataset = yaml.load(readFileSync(path.join(r.data, 'coco128.yaml'), 'utf8')) as {
      path: string;
      train: string;
      names: Record<number, string>;
    };
    assert.equal(dataset.path, '../datasets/coco128');
    assert.equal(dataset.train, 'images/train2017');
    assert.equal(Object.keys(dataset.names).length, 80);
    assert.equal(dataset.names[79], 'toothbrush');
  });

  it('stops at the first failing step with what to do', () => {
    const oneGpu = run([], { STUB_GPUS: '1' });
    assert.equal(oneGpu.status, 1);
    assert.match(oneGpu.stderr, /FAILED: 1 GPU\(s\) here; this check trains on 2 \(--gpus 0,1\)/);
    assert.deepEqual(oneGpu.calls, [], 'nothing else ran');

    const oldDriver = run([], { STUB_DRIVER: '450.51.06' });
    assert.match(oldDriver.stderr, /FAILED: driver 450\.51\.06 is older than 460\.32\.03/);

    const doctor = run(['--skip-build'], { STUB_DOCTOR: '1' });
    assert.equal(doctor.status, 1);
    assert.match(doctor.stderr, /FAILED: the doctor found problems/);
    assert.ok(!doctor.calls.some((c) => c.endsWith(' build')), '--skip-build');
    assert.ok(!doctor.calls.some((c) => c.includes('--nproc 2 train')), 'no training after a failed doctor');

    const bad = run(['--frobnicate']);
    assert.equal(bad.status, 2);
  });
});
