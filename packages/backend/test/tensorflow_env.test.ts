// What the backend puts into the environment before TensorFlow loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensorflowLoadEnv } from '../src/index.js';

test("the launcher's thread budget becomes TensorFlow's intra-op pool; one inter-op thread; oneDNN off", () => {
  assert.deepEqual(tensorflowLoadEnv({ YOLO_LAUNCH_THREADS: '3' }), {
    TF_NUM_INTRAOP_THREADS: '3',
    TF_NUM_INTEROP_THREADS: '1',
    TF_ENABLE_ONEDNN_OPTS: '0',
  });
});

test('without a launcher budget TensorFlow sizes its own intra-op pool', () => {
  assert.equal(tensorflowLoadEnv({}).TF_NUM_INTRAOP_THREADS, undefined);
  assert.equal(tensorflowLoadEnv({ YOLO_LAUNCH_THREADS: 'many' }).TF_NUM_INTRAOP_THREADS, undefined);
  assert.equal(tensorflowLoadEnv({ YOLO_LAUNCH_THREADS: '0' }).TF_NUM_INTRAOP_THREADS, undefined);
});

test('what the user set wins', () => {
  assert.deepEqual(
    tensorflowLoadEnv({
      YOLO_LAUNCH_THREADS: '3',
      TF_NUM_INTRAOP_THREADS: '8',
      TF_NUM_INTEROP_THREADS: '2',
      TF_ENABLE_ONEDNN_OPTS: '1',
    }),
    {},
  );
});
