// The order the trainer registers variables with DDP (src/ddp-params.ts): with --distill-feat's
// adapters, the bucket plan follows the order the recomputing backward makes gradients ready
// (Detect and the adapters first, then the layers from the last to layer 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import {
  planBuckets,
  DEFAULT_BUCKET_CAP_MB,
  DEFAULT_FIRST_BUCKET_CAP_MB,
  DEFAULT_LAST_BUCKET_CAP_MB,
  type Bucket,
} from '@yolo-launch/ddp';
import { ddpParameters } from '../src/ddp-params.js';
import { FeatureAdapters } from '../src/distill/adapters.js';

const MIB = 1024 * 1024;

/** DDP's default plan (ddp.ts) for these variables in this order. */
function defaultPlan(vars: readonly tf.Variable[]): Bucket[] {
  return planBuckets(vars, {
    capBytes: DEFAULT_BUCKET_CAP_MB * MIB,
    firstCapBytes: DEFAULT_FIRST_BUCKET_CAP_MB * MIB,
    lastCapBytes: DEFAULT_LAST_BUCKET_CAP_MB * MIB,
  });
}

/**
 * When each bucket is complete in the recomputing backward, as a step: 0 for the loss's backward
 * (Detect's parameters and the adapters), L - i for layer i's backward.
 */
function readySteps(plan: readonly Bucket[], model: yolo.YoloModel): number[] {
  const layerOf = new Map(model.trainableParameters().map((p) => [p.variable.name, Number(p.name.split('.')[1])]));
  const detect = Math.max(...layerOf.values());
  return plan.map((b) => Math.max(...b.entries.map((e) => detect - (layerOf.get(e.name) ?? detect))));
}

const nondecreasing = (xs: readonly number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x);

test('yolov5n with --distill-feat adapters to yolov5s: buckets in the order the backward makes them ready', async () => {
  await initBackend({ backend: 'cpu' });
  const model = yolo.createModel(yolo.modelYamlPath('yolov5n')!, { seed: 0 });
  const adapters = new FeatureAdapters([64, 128, 256], [128, 256, 512], 0);
  const modelVars = model.trainableParameters().map((p) => p.variable);
  const adapterNames = new Set(adapters.variables.map((v) => v.name));
  const layer0 = model
    .trainableParameters()
    .filter((p) => p.name.startsWith('model.0.'))
    .map((p) => p.variable.name);

  const plan = defaultPlan(ddpParameters(modelVars, adapters.variables));
  const bucketOf = (name: string) => plan.findIndex((b) => b.entries.some((e) => e.name === name));
  for (const name of adapterNames) assert.equal(bucketOf(name), 0, `${name} in the first bucket, with Detect's`);
  assert.ok(
    plan[0]!.entries.some((e) => !adapterNames.has(e.name)),
    'the first bucket also holds Detect parameters',
  );
  const last = plan[plan.length - 1]!;
  for (const name of layer0) assert.equal(bucketOf(name), plan.length - 1, `${name} in the small last bucket`);
  assert.ok(last.size * 4 <= DEFAULT_LAST_BUCKET_CAP_MB * MIB, `last bucket ${last.size * 4} B within 64 KiB`);
  assert.ok(nondecreasing(readySteps(plan, model)), `ready steps ${readySteps(plan, model)}`);

  // the old order (adapters registered first) breaks both: what this test guards against
  const old = defaultPlan([...adapters.variables, ...modelVars]);
  const oldLast = old[old.length - 1]!;
  assert.ok(
    oldLast.entries.some((e) => adapterNames.has(e.name)),
    'old plan: an adapter in the last bucket',
  );
  assert.ok(
    !layer0.every((n) => oldLast.entries.some((e) => e.name === n)),
    'old plan: layer 0 not in the last bucket',
  );
  adapters.dispose();
  model.dispose();
});
