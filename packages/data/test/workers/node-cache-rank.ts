/**
 * Spawned by node-cache.test as one local rank of two (LOCAL_RANK, LOCAL_WORLD_SIZE=2 and
 * YOLO_LAUNCH_RUN_ID in the environment): --cache ram with the node cache in argv[3], one
 * epoch, then prints a JSON summary and keeps the loader open until stdin closes.
 */
import crypto from 'node:crypto';
import { loadSplit, createDataLoader } from '../../src/index.js';

const [yamlFile, cacheDir] = process.argv.slice(2) as [string, string];
const { dataset } = await loadSplit(yamlFile, 'train', { writeCache: false });
const lines: string[] = [];
const loader = await createDataLoader({
  dataset,
  batchSize: 4,
  imgsz: 96,
  augment: true,
  workers: 1,
  threadBudget: 2,
  seed: 7,
  cache: 'ram',
  nodeCache: { dir: cacheDir },
  log: (l) => lines.push(l),
});
const digest = crypto.createHash('sha256');
for await (const b of loader.epoch([...Array(dataset.imFiles.length).keys()], 0)) {
  digest.update(b.images);
  digest.update(new Uint8Array(b.targets.buffer, b.targets.byteOffset, b.targets.byteLength));
}
console.log(JSON.stringify({ digest: digest.digest('hex'), ramCache: loader.ramCache, log: lines }));
process.stdin.resume();
process.stdin.on('end', () => void loader.close().then(() => process.exit(0)));
