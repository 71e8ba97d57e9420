// The images' startup script, run for real with /bin/sh. The system commands it asks
// (nvidia-smi, df, ldconfig, ip) and the launcher are stand-ins on PATH, so each situation a
// GPU server can be in is reproduced here: GPUs or none, 64 MB or 16 GB of /dev/shm, cuDNN
// missing, a token in a secret file, a wrong interface name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoPath, repoRoot } from '../src/index.js';

const ENTRYPOINT = repoPath('deploy/docker/entrypoint.sh');
const WRAPPER = repoPath('deploy/docker/yolo-launch.sh');

const STUBS: Record<string, string> = {
  'nvidia-smi': `#!/bin/sh
if [ "$STUB_GPUS" = fail ]; then echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."; exit 9; fi
i=0; while [ "$i" -lt "\${STUB_GPUS:-0}" ]; do echo "$i, NVIDIA A100-SXM4-80GB, 81920 MiB, 535.104.05"; i=$((i + 1)); done
`,
  df: `#!/bin/sh
echo "Filesystem     1024-blocks  Used Available Capacity Mounted on"
echo "shm $STUB_SHM_KB 0 $STUB_SHM_KB 0% /dev/shm"
`,
  ldconfig: `#!/bin/sh
echo "42 libs found in cache"
[ "\${STUB_CUDNN:-1}" = 1 ] && echo "	libcudnn.so.8 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.8"
exit 0
`,
  ip: `#!/bin/sh
# ip -o -4 addr show [dev NAME]
if [ "$5" = dev ]; then [ "$6" = "$STUB_IF" ] && echo "3: $STUB_IF    inet 10.1.2.3/24 brd 10.1.2.255 scope global $STUB_IF"; exit 0; fi
echo "1: lo    inet 127.0.0.1/8 scope host lo"
echo "3: $STUB_IF    inet 10.1.2.3/24 brd 10.1.2.255 scope global $STUB_IF"
`,
  'yolo-launch': `#!/bin/sh
printf 'LAUNCHER'; for a in "$@"; do printf ' <%s>' "$a"; done; printf '\\n'
printf 'TOKEN=%s\\n' "\${YOLO_LAUNCH_TOKEN:-}"
`,
};

let dir = '';
let gpuApp = '';
let wasmApp = '';

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'yolo-entrypoint-'));
  mkdirSync(path.join(dir, 'bin'));
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(path.join(dir, 'bin', name), body);
    chmodSync(path.join(dir, 'bin', name), 0o755);
  }
  gpuApp = path.join(dir, 'gpu-app');
  mkdirSync(path.join(gpuApp, 'node_modules/@tensorflow/tfjs-node-gpu'), { recursive: true });
  writeFileSync(
    path.join(gpuApp, 'node_modules/@tensorflow/tfjs-node-gpu/package.json'),
    JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '4.22.0' }, null, 2),
  );
  wasmApp = path.join(dir, 'wasm-app');
  mkdirSync(wasmApp);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string>): Run {
  const r = spawnSync('/bin/sh', [ENTRYPOINT, ...args], {
    encoding: 'utf8',
    timeout: 10_000,
    env: {
      PATH: `${path.join(dir, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      YOLO_APP_DIR: gpuApp,
      YOLO_BACKEND: 'tensorflow',
      STUB_GPUS: '2',
      STUB_SHM_KB: String(16 * 1024 * 1024),
      STUB_IF: 'ib0',
      ...env,
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('startup script (deploy/docker/entrypoint.sh)', () => {
  it('reports backend, GPUs and /dev/shm, then runs the launcher with the arguments intact', () => {
    const r = run(['yolo-launch', '--nproc', 'gpu', 'train', '--name', 'my run'], {});
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /backend: YOLO_BACKEND=tensorflow; @tensorflow\/tfjs-node-gpu 4\.22\.0 installed/);
    assert.match(r.stderr, /GPUs: 2 seen by nvidia-smi/);
    assert.match(r.stderr, /GPU 1, NVIDIA A100-SXM4-80GB/);
    assert.match(r.stderr, /\/dev\/shm: 16384 MB/);
    assert.doesNotMatch(r.stderr, /WARNING/);
    assert.equal(r.stdout.split('\n')[0], 'LAUNCHER <--nproc> <gpu> <train> <--name> <my run>');
  });

  it('arguments without the leading yolo-launch go to the launcher too', () => {
    const r = run(['--nproc', '2', '--', 'echo', 'x'], { YOLO_ENTRYPOINT_QUIET: '1' });
    assert.equal(r.stdout.split('\n')[0], 'LAUNCHER <--nproc> <2> <--> <echo> <x>');
    assert.equal(r.stderr, '');
  });

  it("warns when /dev/shm is Docker's 64 MB default", () => {
    const r = run(['train'], { STUB_SHM_KB: String(64 * 1024) });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /WARNING: \/dev\/shm is only 64 MB \(under 1024 MB\).*ipc: host or shm_size/s);
  });

  it('warns loudly when the GPU image sees no GPU', () => {
    const r = run(['train'], { STUB_GPUS: 'fail' });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /GPUs: none \(nvidia-smi failed: NVIDIA-SMI has failed/);
    assert.match(r.stderr, /WARNING: this is the GPU image but no GPU is visible.*--gpus all/s);
  });

  it('creates the CUDA JIT cache directory (a per-node path on a fresh volume), and warns when it cannot', () => {
    const cache = path.join(dir, 'cache-volume', 'cuda', 'node-a');
    const made = run(['train'], { CUDA_CACHE_PATH: cache, YOLO_ENTRYPOINT_QUIET: '1' });
    assert.equal(made.status, 0, made.stderr);
    assert.equal(made.stderr, '');
    assert.ok(existsSync(cache));
    const blocked = path.join(dir, 'not-a-dir');
    writeFileSync(blocked, '');
    const r = run(['train'], { CUDA_CACHE_PATH: path.join(blocked, 'cuda'), YOLO_ENTRYPOINT_QUIET: '1' });
    assert.equal(r.status, 0, 'a warning, not a failure');
    assert.match(
      r.stderr,
      /WARNING: CUDA_CACHE_PATH=.*not-a-dir\/cuda is not writable by uid \d+: .*JIT-compile .* at every start/s,
    );
  });

  it('warns about the silent CPU fallback when libcudnn.so.8 is missing', () => {
    const r = run(['train'], { STUB_CUDNN: '0' });
    assert.match(r.stderr, /WARNING: libcudnn\.so\.8 not found.*silently fall back to the CPU/s);
  });

  it('the wasm image without GPUs is not a warning', () => {
    const r = run(['train'], { YOLO_APP_DIR: wasmApp, YOLO_BACKEND: 'wasm', STUB_GPUS: 'fail' });
    assert.match(r.stderr, /@tensorflow\/tfjs-node-gpu not installed/);
    assert.doesNotMatch(r.stderr, /WARNING/);
  });

  it('exports the token from YOLO_LAUNCH_TOKEN_FILE without printing it', () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, 'c0ffee-s3cr3t\n');
    const r = run(['train'], { YOLO_LAUNCH_TOKEN_FILE: file });
    assert.match(r.stdout, /^TOKEN=c0ffee-s3cr3t$/m, 'the launcher receives the token');
    assert.doesNotMatch(r.stderr, /c0ffee/, 'the report never shows it');
  });

  it('stops with exit 2 and a clear message when the token file is missing', () => {
    const r = run(['train'], { YOLO_LAUNCH_TOKEN_FILE: path.join(dir, 'no-such-token') });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /YOLO_LAUNCH_TOKEN_FILE=.*no-such-token is missing or not readable/);
    assert.doesNotMatch(r.stdout, /LAUNCHER/);
  });

  it("checks YOLO_SOCKET_IFNAME against the container's interfaces", () => {
    const good = run(['train'], { YOLO_SOCKET_IFNAME: 'ib0' });
    assert.match(good.stderr, /network: YOLO_SOCKET_IFNAME=ib0 \(10\.1\.2\.3\/24\)/);
    const bad = run(['train'], { YOLO_SOCKET_IFNAME: 'eth9' });
    assert.match(bad.stderr, /WARNING: YOLO_SOCKET_IFNAME=eth9 has no IPv4 address.*interfaces here: lo ib0/s);
  });

  it('runs any other command as is (docker run IMAGE nvidia-smi), without the report', () => {
    const r = run(['echo', 'hello'], {});
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.stderr, '');
  });
});

describe('the real chain: startup script → yolo-launch wrapper → launcher → workers', () => {
  it('starts two ranks on the wasm image layout and hands them the token from the secret file', () => {
    // The wrapper stands in /usr/local/bin/yolo-launch; the app directory is this checkout.
    const bin = path.join(dir, 'real-bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(WRAPPER, path.join(bin, 'yolo-launch'));
    const tokenFile = path.join(dir, 'chain-token');
    writeFileSync(tokenFile, 'chain-test-token\n');
    const worker =
      "console.log('rank', process.env.RANK, 'of', process.env.WORLD_SIZE, process.env.YOLO_LAUNCH_TOKEN === 'chain-test-token' ? 'token-ok' : 'token-wrong')";
    const r = spawnSync(
      '/bin/sh',
      [ENTRYPOINT, 'yolo-launch', '--nproc', '2', '--standalone', '--', process.execPath, '-e', worker],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
          YOLO_APP_DIR: repoRoot,
          YOLO_BACKEND: 'wasm',
          YOLO_LAUNCH_TOKEN_FILE: tokenFile,
        },
      },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /backend: YOLO_BACKEND=wasm/);
    for (const rank of [0, 1]) assert.match(r.stdout, new RegExp(`rank ${rank} of 2 token-ok`));
    assert.doesNotMatch(r.stdout + r.stderr, /chain-test-token/);
  });
});

describe('shell scripts', () => {
  for (const file of [ENTRYPOINT, WRAPPER]) {
    it(`${path.basename(file)} parses with sh -n`, () => {
      const r = spawnSync('/bin/sh', ['-n', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });
  }

  it('shellcheck finds nothing (when shellcheck is installed)', (t) => {
    const r = spawnSync('shellcheck', ['-s', 'sh', ENTRYPOINT, WRAPPER], { encoding: 'utf8' });
    if (r.error) {
      t.skip('shellcheck is not installed (apt-get install shellcheck); sh -n above still ran');
      return;
    }
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
