// One validation batch through the model in eval mode: the predictions and the loss items,
// read back to the host.

import { tf } from '@yolo-launch/backend';
import type * as yolo from '@yolo-launch/yolo';
import type { Batch } from './batches.js';
import type { ValidationInputs } from './val-inputs.js';

/** Forward (eval) and loss items of one batch, read back to the host; adds to ms [pre, inference]. */
export function predict(
  inputs: ValidationInputs,
  lossFn: yolo.ComputeLoss | null,
  batch: Batch,
  ms: number[],
): { predHost: Float32Array; items: number[] | null } {
  const t0 = performance.now();
  const x = tf.tidy(
    () =>
      tf.div(
        tf.cast(tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, 3], 'int32'), 'float32'),
        255,
      ) as tf.Tensor4D,
  );
  const t1 = performance.now();
  // The tidy returns tensors, not their host copies: tidy walks every key of what it returns,
  // which for a ~17M-float prediction array cost more than the forward pass itself.
  const [predT, ...raw] = tf.tidy((): tf.Tensor[] => {
    const { pred, raw } = inputs.model.forwardEval(x);
    return [pred, ...raw];
  });
  const predHost = predT.dataSync() as Float32Array;
  ms[0]! += t1 - t0;
  ms[1]! += performance.now() - t1;
  let items: number[] | null = null;
  if (lossFn) {
    const itemsT = tf.tidy(() => lossFn.compute(raw as tf.Tensor5D[], batch.targets).items);
    items = Array.from(itemsT.dataSync());
    itemsT.dispose();
  }
  tf.dispose([x, predT, ...raw]);
  return { predHost, items };
}
