/** Spawned by loader.test: consumes one epoch with 2 workers and never calls close(). */
import { loadSplit, createDataLoader } from '../../src/index.js';

const yamlFile = process.argv[2]!;
const { dataset } = await loadSplit(yamlFile, 'train');
const loader = await createDataLoader({ dataset, batchSize: 4, imgsz: 64, augment: true, workers: 2 });
let n = 0;
for await (const b of loader.epoch([...Array(dataset.imFiles.length).keys()], 0)) n += b.shape[0];
// an early break leaves batches in flight: they must not keep the process alive either
for await (const b of loader.epoch([...Array(dataset.imFiles.length).keys()], 1)) {
  n += b.shape[0];
  break;
}
console.log(`images ${n}`);
