// The environment TensorFlow reads once, when its shared library loads (so it must be set
// before tfjs-node is imported, and cannot change afterwards in this process).
//
// - Threads: the launcher gives each worker a CPU budget, YOLO_LAUNCH_THREADS = cores / local
//   ranks. TensorFlow would otherwise size its intra-op pool to every core in every rank and
//   oversubscribe the machine. Inter-op parallelism buys nothing for tfjs's eager ops (one op
//   at a time), so one inter-op thread.
// - oneDNN: TensorFlow's oneDNN (MKL) kernels, on by default on x86, are wrong for us: with
//   TF 2.21 a 1x1 Conv2D with 1024 input and 512 output channels (yolov5l/x's SPPF cv1) kills
//   the process with SIGFPE at every spatial size, and tfjs-core's own kernel tests give wrong
//   conv backprop-input/transpose numbers with it (see the backend README, "oneDNN"). TF's
//   Eigen kernels have neither problem, so TF_ENABLE_ONEDNN_OPTS=0 unless the user set it.
// What the user set explicitly always wins.
import { readWorkerEnv, WorkerEnvError } from '@yolo-launch/core';

export type Env = Record<string, string | undefined>;

/** The launcher's thread budget (core's readWorkerEnv); a malformed one leaves TensorFlow's own default. */
function threadBudget(env: Env): number | undefined {
  try {
    return readWorkerEnv(env).threads;
  } catch (err) {
    if (err instanceof WorkerEnvError && err.variable === 'YOLO_LAUNCH_THREADS') return undefined;
    throw err;
  }
}

/** The variables to add to the process environment before tfjs-node loads. */
export function tensorflowLoadEnv(env: Env): Record<string, string> {
  const add: Record<string, string> = {};
  const budget = threadBudget(env);
  if (env.TF_NUM_INTRAOP_THREADS === undefined && budget !== undefined) add.TF_NUM_INTRAOP_THREADS = String(budget);
  if (env.TF_NUM_INTEROP_THREADS === undefined) add.TF_NUM_INTEROP_THREADS = '1';
  if (env.TF_ENABLE_ONEDNN_OPTS === undefined) add.TF_ENABLE_ONEDNN_OPTS = '0';
  return add;
}
