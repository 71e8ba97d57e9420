// Resume: a run stopped after an epoch and resumed with --resume ends with exactly the
// weights of an uninterrupted run (wasm, and tensorflow where it is set up: the checkpoint
// round trip); a rank SIGKILLed in epoch 2 under --max-restarts 1 makes
// the launcher restart the group, which resumes from last.pt by itself and completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, readResults } from '@yolo-launch/train';
import { processesMatching, readLog, runLaunch, runTrain, tmpDir } from '../helpers/run.js';
import { tinyTrain } from '../helpers/tiny-train.js';
import { backendsUnderTest } from '../helpers/backends.js';

function sameTensors(a: string, b: string): { differing: string[]; compared: number } {
  const x = loadCheckpoint(a);
  const y = loadCheckpoint(b);
  const yt = new Map(y.model.map((t) => [t.name, t]));
  const differing: string[] = [];
  for (const t of x.model) {
    const u = yt.get(t.name);
    if (!u || u.data.length !== t.data.length || t.data.some((v, i) => !Object.is(v, u.data[i])))
      differing.push(t.name);
  }
  return { differing, compared: x.model.length };
}

for (const { backend, skip } of await backendsUnderTest()) {
  test(
    `exact resume (${backend}): stopped after epoch 1 and resumed equals the uninterrupted run bit for bit`,
    { skip },
    async () => {
      const dir = tmpDir(`resume-${backend}`);
      try {
        const common = tinyTrain(dir, { images: 16, epochs: 3, backend }).flags;
        const full = await runTrain([...common, '--name', 'full'], { cwd: dir, timeoutMs: 180_000 });
        assert.equal(full.code, 0, full.stderr);
        const cut = await runTrain([...common, '--name', 'cut'], {
          cwd: dir,
          env: { YOLO_TRAIN_EXIT_AFTER_EPOCH: '1' },
          timeoutMs: 180_000,
        });
        assert.equal(cut.code, 75, `the test hook exits 75 after epoch 1: ${cut.stderr}`);
        assert.equal(loadCheckpoint(path.join(dir, 'runs', 'cut', 'weights', 'last.pt')).meta.epoch, 1);
        const resumed = await runTrain(['--resume', path.join(dir, 'runs', 'cut', 'weights', 'last.pt')], {
          cwd: dir,
          timeoutMs: 180_000,
        });
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.match(resumed.stdout, /Resuming training from .* from epoch 2 to 3 total epochs/);
        for (const f of ['last.pt', 'best.pt']) {
          const r = sameTensors(
            path.join(dir, 'runs', 'full', 'weights', f),
            path.join(dir, 'runs', 'cut', 'weights', f),
          );
          assert.deepEqual(r.differing, [], `${f}: tensors differing after resume`);
        }
        const ra = readResults(path.join(dir, 'runs', 'full', 'results.csv'));
        const rb = readResults(path.join(dir, 'runs', 'cut', 'results.csv'));
        assert.deepEqual(rb, ra, 'results.csv rows are identical');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test('SIGKILL of rank 1 during epoch 2 with --max-restarts 1: the group restarts, resumes from last.pt and completes', async () => {
  const dir = tmpDir('kill');
  try {
    const train = tinyTrain(dir, { images: 16, epochs: 4 });
    const saveDir = path.join(dir, 'runs', 'exp');
    let killed = false;
    const watcher = setInterval(() => {
      if (killed) return;
      const rec = readLog(saveDir).find(
        (r) => r.msg === 'epoch start' && r.rank === 1 && r.epoch === 2 && r.restart_count === 0,
      );
      if (rec) {
        killed = true;
        process.kill(rec.pid as number, 'SIGKILL');
      }
    }, 50);
    let r;
    try {
      r = await runLaunch(['--nproc', '2', '--standalone', '--max-restarts', '1'], train.flags, {
        cwd: dir,
        timeoutMs: 240_000,
      });
    } finally {
      clearInterval(watcher);
    }
    assert.ok(killed, 'rank 1 was killed in epoch 2');
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
    const log = readLog(saveDir);
    const resumedStarts = log.filter((x) => x.msg === 'epoch start' && x.restart_count === 1);
    assert.ok(resumedStarts.length > 0, 'epochs ran after the restart');
    assert.equal(
      Math.min(...resumedStarts.map((x) => x.epoch as number)),
      2,
      'the restarted group resumed at epoch 2 (last.pt held epoch 1)',
    );
    const final = loadCheckpoint(path.join(saveDir, 'weights', 'last.pt'));
    assert.equal(final.meta.epoch, -1, 'final last.pt is stripped');
    assert.deepEqual(
      readResults(path.join(saveDir, 'results.csv')).map((x) => x.epoch),
      [0, 1, 2, 3],
    );
    assert.deepEqual(
      processesMatching(dir).filter((p) => !p.includes('--test')),
      [],
      'no orphans',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
