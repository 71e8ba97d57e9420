// node dist/bench/profile.js [--imgsz 320 --batch 8 --bn fused]
// Where a YOLOv5n-shaped training step spends its CPU time on wasm, per kernel (exclusive
// time: our kernels call wasm kernels directly, and those are charged to the inner one).
import { parseArgs } from 'node:util';
import { tf, initBackend } from '../src/index.js';
import { YoloV5Shaped, YOLOV5N } from '../test/yolov5n_shaped.js';

const { values: opts } = parseArgs({
  options: {
    imgsz: { type: 'string', default: '320' },
    batch: { type: 'string', default: '8' },
    bn: { type: 'string', default: 'fused' },
  },
});
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

await initBackend({ backend: 'wasm' });
const stats = new Map<string, { ms: number; calls: number }>();
const stack: { name: string; start: number; child: number }[] = [];
for (const config of tf.getKernelsForBackend('wasm')) {
  const inner = config.kernelFunc;
  (config as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    stack.push({ name: config.kernelName, start: cpuMs(), child: 0 });
    try {
      return inner(args);
    } finally {
      const frame = stack.pop()!;
      const total = cpuMs() - frame.start;
      const s = stats.get(frame.name) ?? { ms: 0, calls: 0 };
      s.ms += total - frame.child;
      s.calls++;
      stats.set(frame.name, s);
      if (stack.length > 0) stack[stack.length - 1].child += total;
    }
  }) as tf.KernelFunc;
}

const net = new YoloV5Shaped(tf, { ...YOLOV5N, bn: opts.bn === 'moments' ? 'moments' : 'fused' });
const optimizer = tf.train.sgd(0.01);
const x = tf.randomUniform([Number(opts.batch), Number(opts.imgsz), Number(opts.imgsz), 3]) as tf.Tensor4D;
net.step(x, optimizer).dispose();
net.step(x, optimizer).dispose();
stats.clear();
const t0 = cpuMs();
net.step(x, optimizer).dispose();
const total = cpuMs() - t0;
const kernels = [...stats.values()].reduce((a, s) => a + s.ms, 0);
console.log(
  `step: ${total.toFixed(0)} ms CPU; in kernels ${kernels.toFixed(0)} ms; outside kernels (engine, tape, JS) ${(total - kernels).toFixed(0)} ms`,
);
for (const [name, s] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
  console.log(`  ${name.padEnd(28)} ${s.ms.toFixed(1).padStart(8)} ms  x${s.calls}`);
}
