// The order in which the trainer registers its trainable variables with DDP. DDP plans its
// gradient buckets from the last registered variable to the first (ddp's buckets.ts): it takes
// registration order to be the reverse of the order in which the backward produces gradients,
// and keeps the first registered ones (the last gradients) in a small bucket of their own,
// the only one whose all-reduce cannot overlap the backward.
//
// The model's parameters come in state_dict order (layer 0 first, Detect last); the recomputing
// backward produces them last layer first. The loss's own variables (--distill-feat's 1x1
// adapters) get their gradients from the loss's backward, with Detect's and before any layer's
// (yolo's forwardBackward hands them to DDP's hook right there), so they are registered after
// the model's: they land in the first bucket, reduced while the layers are differentiated.
// Registered first (as before), they took the small last bucket (adapter 0) and the big bucket
// of the first layers (adapters 1-2), and layer 0 left the small bucket for the big one.
//
// The order changes which bucket and position a gradient has, not its value: at world 2 every
// element is still a + b, bit for bit.

import type { tf } from '@yolo-launch/backend';

/** The variables DDP reduces, in registration order: the model's (state_dict order), then the loss's. */
export function ddpParameters(model: readonly tf.Variable[], lossVariables: readonly tf.Variable[]): tf.Variable[] {
  return [...model, ...lossVariables];
}
