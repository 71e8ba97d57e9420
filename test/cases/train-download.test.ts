// check_dataset's download: a dataset YAML whose images are missing and which has a
// `download:` URL is fetched (here from a loopback HTTP server), unpacked and trained on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { runTrain, tmpDir } from '../helpers/run.js';
import { tinyTrainFlags } from '../helpers/tiny-train.js';
import { makeFixedSizeDataset, writeNoAugHyp } from '../helpers/images.js';

const haveTools = spawnSync('zip', ['-v']).status === 0 && spawnSync('unzip', ['-v']).status === 0;

test(
  'a missing dataset with a download: URL is downloaded, unpacked and trained on',
  { skip: haveTools ? false : 'zip/unzip not installed' },
  async () => {
    const dir = tmpDir('download');
    const server = http.createServer((req, res) => {
      const f = path.join(dir, 'serve', path.basename(req.url ?? ''));
      if (!fs.existsSync(f)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/zip' });
      res.end(fs.readFileSync(f));
    });
    try {
      makeFixedSizeDataset(path.join(dir, 'build', 'fixed'), 8);
      fs.mkdirSync(path.join(dir, 'serve'));
      const z = spawnSync('zip', ['-q', '-r', path.join(dir, 'serve', 'fixed.zip'), 'fixed/images', 'fixed/labels'], {
        cwd: path.join(dir, 'build'),
      });
      assert.equal(z.status, 0, z.stderr?.toString());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const yaml = path.join(dir, 'fixed.yaml');
      fs.writeFileSync(
        yaml,
        `path: ${path.join(dir, 'datasets', 'fixed')}\ntrain: images/train\nval: images/train\nnames: [red, green, blue]\ndownload: http://127.0.0.1:${port}/fixed.zip\n`,
      );
      const files = { data: yaml, hyp: writeNoAugHyp(dir), project: path.join(dir, 'runs') };
      const r = await runTrain([...tinyTrainFlags(files, { epochs: 1 }), '--noval'], { cwd: dir, timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Dataset download success/);
      assert.equal(fs.readdirSync(path.join(dir, 'datasets', 'fixed', 'images', 'train')).length, 8);
      assert.ok(fs.existsSync(path.join(dir, 'runs', 'exp', 'weights', 'last.pt')));
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
