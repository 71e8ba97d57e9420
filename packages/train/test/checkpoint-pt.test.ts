// Checkpoints as YOLOv5 .pt files: YOLOv5's own files (every one of the fixtures' weights/
// folder) decode into our Checkpoint with the optimizer's momentum buffers mapped from torch's
// parameter indices to our names; a class outside the reader's table is refused by file name;
// release weights are downloaded (from a local server here) or refused offline with where to
// put them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as yolo from '@yolo-launch/yolo';
import { CheckpointError, decodeCheckpoint } from '../src/checkpoint.js';
import { attemptDownload } from '../src/weights-download.js';
import { UsageError } from '../src/options.js';
import { fixturesDir } from './helpers/fixtures.js';
import { sampleCheckpoint } from './helpers/sample-checkpoint.js';

const weightsDir = path.join(fixturesDir(), 'weights');
const weightFiles = fs
  .readdirSync(weightsDir)
  .filter((f) => f.endsWith('.pt'))
  .sort();

interface WeightsJson {
  kind: string;
  names?: Record<string, string>;
  scalars?: { epoch: number };
  optimizer?: { n_state: number; param_groups: { n_params: number }[] };
  model: Record<string, unknown>;
}

for (const file of weightFiles) {
  const json = JSON.parse(fs.readFileSync(path.join(weightsDir, `${file}.json`), 'utf8')) as WeightsJson;
  test(`${file}: decodes as a checkpoint (YOLOv5's own file)`, () => {
    const bytes = fs.readFileSync(path.join(weightsDir, file));
    if (json.kind !== 'yolov5-checkpoint') {
      assert.throws(
        () => decodeCheckpoint(bytes, file),
        (err: unknown) => err instanceof CheckpointError && /bare state_dict has no model definition/.test(err.message),
      );
      return;
    }
    const checkpoint = decodeCheckpoint(bytes, file);
    assert.equal(checkpoint.meta.epoch, json.scalars!.epoch);
    assert.deepEqual(checkpoint.meta.names, Object.values(json.names!));
    assert.equal(checkpoint.meta.nc, Object.keys(json.names!).length);
    assert.equal(checkpoint.model.length, Object.keys(json.model).length);
    if (!json.optimizer) {
      assert.equal(checkpoint.optimizer, null);
      return;
    }
    // Every momentum buffer lands on a parameter of its own size: the index mapping is right.
    const sizes = new Map(checkpoint.model.map((t) => [t.name, t.data.length]));
    assert.equal(checkpoint.optimizer!.length, json.optimizer.n_state);
    for (const buffer of checkpoint.optimizer!) {
      const param = buffer.name.slice(0, buffer.name.lastIndexOf('/'));
      assert.equal(buffer.data.length, sizes.get(param), buffer.name);
    }
    assert.equal(checkpoint.meta.optimizer!.name, 'SGD');
  });
}

test('our .pt with a module of an unknown class is refused with the file name', async () => {
  const checkpoint = await sampleCheckpoint(1, 10);
  // Our writer's module tree with its first layer replaced by a class outside the table.
  const tree = yolo.detectionModelObject(
    yolo.readModelYaml(checkpoint.meta.model_yaml as unknown as yolo.ModelYaml),
    Object.fromEntries(checkpoint.model.map((t) => [t.name, { shape: t.shape, data: Float32Array.from(t.data) }])),
    { training: false, requiresGrad: false, names: ['a', 'b', 'c'], stride: [2] },
  );
  const treeLayers = (tree.attrs.get('_modules') as Map<string, yolo.PyObject>)
    .get('model')!
    .attrs.get('_modules') as Map<string, yolo.PyObject>;
  const payload = new yolo.PyObject('evil.module.Payload', false);
  payload.state = new Map();
  treeLayers.set('0', payload);
  const evil = yolo.writePtArchive(
    new Map<yolo.PyValue, yolo.PyValue>([
      ['model', tree],
      ['ema', null],
      ['epoch', -1],
    ]),
    'evil',
  );
  assert.throws(
    () => decodeCheckpoint(evil, 'evil.pt'),
    (err: unknown) =>
      err instanceof CheckpointError &&
      /^evil\.pt: 'model' module model\.0 is a evil\.module\.Payload.*nothing was executed/.test(err.message),
  );
});

async function withServer(handler: http.RequestListener, run: (base: string) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v7.0/`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('attempt_download: a missing release name is fetched, checked and written atomically; failures say where to put it', async () => {
  const served = fs.readFileSync(
    path.join(
      weightsDir,
      weightFiles.find((f) => !f.includes('state-dict'))!,
    ),
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weights-dl-'));
  try {
    await withServer(
      (req, res) => {
        if (req.url === '/v7.0/yolov5n.pt') res.end(served);
        else if (req.url === '/v7.0/yolov5s.pt') res.end('<html>not found</html>');
        else res.writeHead(404).end();
      },
      async (base) => {
        const source = { weightsUrl: base, downloadTimeoutMs: 60_000 };
        const lines: string[] = [];
        const target = path.join(dir, 'yolov5n.pt');
        await attemptDownload(target, source, (line) => lines.push(line));
        assert.deepEqual(fs.readFileSync(target), served);
        assert.match(lines[0]!, /^Downloading http:\/\/127\.0\.0\.1:\d+\/v7\.0\/yolov5n\.pt to /);
        assert.deepEqual(fs.readdirSync(dir), ['yolov5n.pt'], 'no temporary left behind');
        const refused = (name: string, reason: RegExp) =>
          assert.rejects(
            attemptDownload(path.join(dir, name), source, () => {}),
            (err: unknown) =>
              err instanceof UsageError &&
              reason.test(err.message) &&
              err.message.includes(`put it at ${path.join(dir, name)}`),
          );
        await refused('yolov5m.pt', /HTTP 404/);
        await refused('yolov5s.pt', /not a checkpoint/);
        assert.ok(!fs.existsSync(path.join(dir, 'yolov5s.pt')), 'a bad download is not kept');
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
