// Runs a TF.js web model exported by `yolo-launch export --include tfjs` (YOLOv5's *_web_model/
// convention: input NHWC float 0-1, output [1, N, 5+nc] with xywh normalised to 0-1) on an image
// the user picks, and draws the boxes. The pipeline is detect.py's: letterbox (114 border),
// forward, non_max_suppression (per class, conf 0.25, IoU 0.45, max_det 1000), scale_boxes.
// Query parameters: model (URL of model.json), conf, iou, maxDet, backend (webgl, cpu, wasm).
/* global tf */
const params = new URLSearchParams(location.search);
const options = {
  modelUrl: params.get('model') ?? 'model/model.json',
  confThres: Number(params.get('conf') ?? 0.25),
  iouThres: Number(params.get('iou') ?? 0.45),
  maxDet: Number(params.get('maxDet') ?? 1000),
  backend: params.get('backend'),
};
const status = document.getElementById('status');
const view = document.getElementById('view');
document.getElementById('model-url').textContent = options.modelUrl;

/** letterbox(auto=False): resize keeping the aspect ratio, pad to H x W with 114, centred. */
function letterbox(image, height, width) {
  const r = Math.min(height / image.height, width / image.width);
  const newW = Math.round(image.width * r);
  const newH = Math.round(image.height * r);
  const left = Math.round((width - newW) / 2 - 0.1);
  const top = Math.round((height - newH) / 2 - 0.1);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = 'rgb(114, 114, 114)';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(image, left, top, newW, newH);
  // scale_boxes recomputes the padding from the gain, unrounded
  return { canvas, gain: r, padX: (width - image.width * r) / 2, padY: (height - image.height * r) / 2 };
}

/** Candidates above confThres (obj, then obj * best class), greedy NMS per class, best maxDet. */
async function nonMaxSuppression(pred, rows, no, width, height) {
  const byClass = new Map();
  for (let i = 0; i < rows; i++) {
    const o = i * no;
    if (pred[o + 4] <= options.confThres) continue;
    let best = 0;
    for (let c = 1; c < no - 5; c++) if (pred[o + 5 + c] > pred[o + 5 + best]) best = c;
    const conf = pred[o + 4] * pred[o + 5 + best];
    if (conf <= options.confThres) continue;
    const [x, y, w, h] = [pred[o] * width, pred[o + 1] * height, pred[o + 2] * width, pred[o + 3] * height];
    if (!byClass.has(best)) byClass.set(best, { boxes: [], scores: [] });
    byClass.get(best).boxes.push([y - h / 2, x - w / 2, y + h / 2, x + w / 2]);
    byClass.get(best).scores.push(conf);
  }
  const kept = [];
  for (const [cls, { boxes, scores }] of byClass) {
    const [boxTensor, scoreTensor] = [tf.tensor2d(boxes), tf.tensor1d(scores)];
    const keep = await tf.image.nonMaxSuppressionAsync(boxTensor, scoreTensor, options.maxDet, options.iouThres);
    for (const i of await keep.data()) {
      const [y1, x1, y2, x2] = boxes[i];
      kept.push({ x1, y1, x2, y2, conf: scores[i], cls });
    }
    tf.dispose([boxTensor, scoreTensor, keep]);
  }
  return kept.sort((a, b) => b.conf - a.conf).slice(0, options.maxDet);
}

function scaleBoxes(dets, box, image) {
  const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
  return dets.map((d) => ({
    ...d,
    x1: clip((d.x1 - box.padX) / box.gain, image.width),
    y1: clip((d.y1 - box.padY) / box.gain, image.height),
    x2: clip((d.x2 - box.padX) / box.gain, image.width),
    y2: clip((d.y2 - box.padY) / box.gain, image.height),
  }));
}

function draw(image, dets, names) {
  view.width = image.width;
  view.height = image.height;
  const ctx = view.getContext('2d');
  ctx.drawImage(image, 0, 0);
  ctx.lineWidth = Math.max(Math.round(((image.width + image.height) / 2) * 0.003), 2);
  ctx.font = '14px sans-serif';
  for (const d of dets) {
    const hue = (d.cls * 137) % 360;
    ctx.strokeStyle = ctx.fillStyle = `hsl(${hue}, 90%, 45%)`;
    ctx.strokeRect(d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1);
    const label = `${names[d.cls] ?? d.cls} ${d.conf.toFixed(2)}`;
    ctx.fillRect(d.x1, d.y1 - 18, ctx.measureText(label).width + 6, 18);
    ctx.fillStyle = '#fff';
    ctx.fillText(label, d.x1 + 3, d.y1 - 4);
  }
}

async function detect(model, file) {
  const image = await createImageBitmap(file);
  const [, height, width] = model.inputs[0].shape;
  const box = letterbox(image, height, width);
  const started = performance.now();
  const output = tf.tidy(() => model.execute(tf.browser.fromPixels(box.canvas).toFloat().div(255).expandDims(0)));
  const [, rows, no] = output.shape;
  const pred = await output.data();
  output.dispose();
  const dets = scaleBoxes(await nonMaxSuppression(pred, rows, no, width, height), box, image);
  const names = model.metadata?.names ?? [];
  draw(image, dets, names);
  status.textContent = `${dets.length} detections, ${(performance.now() - started).toFixed(0)} ms (${tf.getBackend()})`;
  // for tests and scripts: what was drawn, in original-image pixels
  window.detections = dets;
  document.body.dataset.state = 'done';
}

async function main() {
  if (options.backend) await tf.setBackend(options.backend);
  await tf.ready();
  const model = await tf.loadGraphModel(options.modelUrl);
  const input = document.getElementById('file');
  input.disabled = false;
  document.body.dataset.state = 'ready';
  status.textContent = `model loaded (${tf.getBackend()}); pick an image`;
  input.addEventListener('change', () => {
    if (input.files?.[0])
      detect(model, input.files[0]).catch((err) => {
        status.textContent = `error: ${err.message}`;
        document.body.dataset.state = 'error';
      });
  });
}

main().catch((err) => {
  status.textContent = `cannot load ${options.modelUrl}: ${err.message}`;
  document.body.dataset.state = 'error';
});
