// Writes big checkpoints to argv[2] in a loop until killed (for the atomicity test).
import { saveCheckpoint } from '../../src/checkpoint.js';
import { sampleCheckpoint } from '../helpers/sample-checkpoint.js';

// `node --test dist/test/` also runs this file without arguments: then it does nothing.
const file = process.argv[2];
if (!file) process.exit(0);
for (let epoch = 1; ; epoch++) {
  const c = await sampleCheckpoint(epoch, 4_000_000);
  if (epoch === 1) process.stdout.write('writing\n');
  saveCheckpoint(file, c);
}
