// Records AutoBatch memory curves (peak memory of one training step against batch size)
// with the trainer's own probe, for the fit's tests (test/fixtures/autobatch-curves.json).
//
//   node dist/bench/autobatch-curves.js <out.json> [cfg imgsz recompute]...
//   e.g. YOLO_BACKEND=wasm node dist/bench/autobatch-curves.js /tmp/c.json yolov5n 160 0 yolov5n 320 1
//
// Not part of `npm run bench`: it only refreshes recorded data.

import * as fs from 'node:fs';
import * as yolo from '@yolo-launch/yolo';
import { initBackend, tf } from '@yolo-launch/backend';
import { createTrainStepProbe } from '../src/autobatch/probe.js';
import { autobatch } from '../src/autobatch/profile.js';
import { currentDeviceMemory } from '../src/autobatch/device.js';
import { readEnvSwitch } from '../src/train-env.js';
import { loadHyp } from '../src/config.js';
import { HYP_DIR } from '../src/paths.js';
import * as path from 'node:path';

const [out, ...specs] = process.argv.slice(2);
if (!out || specs.length === 0 || specs.length % 3 !== 0) {
  console.error('usage: autobatch-curves.js <out.json> (<cfg> <imgsz> <recompute 0|1>)...');
  process.exit(2);
}
await initBackend();
const hyp = loadHyp(path.join(HYP_DIR, 'hyp.scratch-low.yaml')) as unknown as yolo.LossHyp;
const curves = [];
for (let i = 0; i < specs.length; i += 3) {
  const [cfg, imgsz, recompute] = [specs[i]!, Number(specs[i + 1]), specs[i + 2] === '1'];
  const modelYaml = yolo.readModelYaml(yolo.modelYamlPath(cfg) ?? cfg);
  const probe = createTrainStepProbe({ modelYaml, nc: 80, lossHyp: hyp, imgsz, recompute });
  const device = currentDeviceMemory(1, readEnvSwitch('visibleGpu', process.env));
  const result = await autobatch(probe, {
    imgsz,
    device,
    params: probe.params,
    print: console.log,
    warn: console.warn,
  });
  probe.dispose();
  curves.push({
    backend: tf.getBackend(),
    cfg,
    imgsz,
    nc: 80,
    backward: recompute ? 'recompute' : 'tape',
    device: { name: device.name, availableBytes: device.availableBytes, fixedBytes: device.fixedBytes },
    samples: result.rows.map((r) => ({ batch: r.batch, bytes: r.bytes })),
  });
}
fs.writeFileSync(out, JSON.stringify({ recorded: new Date().toISOString().slice(0, 10), curves }, null, 1) + '\n');
