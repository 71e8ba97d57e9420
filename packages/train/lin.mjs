import { tf, initBackend } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
await initBackend({ backend: 'wasm' });
const imgsz = Number(process.env.IMG ?? 160);
const model = yolo.createModel(yolo.modelYamlPath('yolov5n.yaml'), { nc: 80 });
const hyp = { box: 0.05, cls: 0.5, obj: 1, cls_pw: 1, obj_pw: 1, fl_gamma: 0, anchor_t: 4, label_smoothing: 0 };
const loss = yolo.ComputeLoss.forModel(model, hyp);
for (const bs of (process.env.BSS ?? "2,4,8,16").split(",").map(Number)) {
  const imgs = tf.randomUniform([bs, imgsz, imgsz, 3]);
  const t = []; for (let b = 0; b < bs; b++) for (let k = 0; k < 7; k++) t.push(b, k % 4, 0.2 + 0.1 * k, 0.5, 0.05 + 0.05 * k, 0.2);
  const targets = Float32Array.from(t);
  const rc = process.env.RC === '1';
  yolo.lossAndGradients(model, loss, imgs, targets, { recompute: rc }).grads.forEach((g) => g.grad.dispose());
  const c0 = process.cpuUsage();
  const n = 2;
  for (let i = 0; i < n; i++) { const r = yolo.lossAndGradients(model, loss, imgs, targets, { recompute: rc }); tf.dispose(r.grads.map((g) => g.grad)); }
  const c = process.cpuUsage(c0);
  console.log(`img ${imgsz} bs ${bs} rc ${rc}: ${((c.user + c.system) / 1000 / n).toFixed(0)} ms cpu/step, ${((c.user + c.system) / 1000 / n / bs).toFixed(0)} ms/img`);
  imgs.dispose();
}
