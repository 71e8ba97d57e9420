// Writes big checkpoints to argv[2] in a loop until killed (for the atomicity test).
import { saveCheckpoint, type Checkpoint } from '../../src/checkpoint.js';

// `node --test dist/test/` also runs this file without arguments: then it does nothing.
const file = process.argv[2];
if (!file) process.exit(0);
const n = 4_000_000;
for (let epoch = 1; ; epoch++) {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = Math.sin(i + epoch);
  const c: Checkpoint = {
    meta: {
      epoch, best_fitness: 0, updates: epoch, optimizer: { name: 'SGD', step: epoch }, opt: {}, hyp: {}, model_yaml: {}, names: [], nc: 0,
      best_epoch: 0, maps: [], date: new Date().toISOString(),
    },
    model: [{ name: 'w', shape: [n], data: w }],
    ema: [{ name: 'w', shape: [n], data: w }],
    optimizer: null,
  };
  if (epoch === 1) process.stdout.write('writing\n');
  saveCheckpoint(file, c);
}
