// detect.py's run() over image files: letterbox (auto: the minimum stride rectangle, as
// LoadImages for a PyTorch model), forward, NMS, boxes back to the original image, then the
// annotated image, labels/<stem>.txt and crops. With N ranks, image i goes to rank i mod N and
// each rank prints and saves its own images; rank 0 prints the speed line over all of them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '@yolo-launch/backend';
import * as data from '@yolo-launch/data';
import * as yolo from '@yolo-launch/yolo';
import { loadWeights, type LoadedWeights } from '@yolo-launch/export';
import { incrementPath, readEnvSwitch, TrainLog, writeFileAtomic } from '@yolo-launch/train';
import type { DetectOptions } from './detect-options.js';
import { gatherAll, makeSaveDir, openRanks } from './ranks.js';
import { labelLines, txtPath } from './labels-txt.js';
import { annotate, crop, type BoxLabel } from './annotate.js';

/** One image's detections, [n, 6] x1, y1, x2, y2, conf, cls in original pixels. */
export interface ImageResult {
  file: string;
  det: Float32Array;
  /** Letterboxed input (height, width) and original (height, width). */
  input: [number, number];
  original: [number, number];
  /** ms [pre-process, inference, NMS]. */
  ms: number[];
}

/** Letterbox, forward and NMS of one image. */
export async function detectImage(
  weights: LoadedWeights,
  file: string,
  opts: Pick<DetectOptions, 'imgsz' | 'confThres' | 'iouThres' | 'classes' | 'agnosticNms' | 'maxDet'>,
  stride: number,
): Promise<ImageResult & { image: data.RgbImage }> {
  const image = await data.decodeImage(file);
  const boxed = await data.letterbox(image, opts.imgsz, { auto: true, stride });
  const [height, width] = [boxed.image.height, boxed.image.width];
  const t0 = performance.now();
  const x = tf.tidy(
    () => tf.div(tf.cast(tf.tensor4d(boxed.image.data, [1, height, width, 3], 'int32'), 'float32'), 255) as tf.Tensor4D,
  );
  const t1 = performance.now();
  const predT = tf.tidy(() => weights.model.forwardEval(x).pred);
  const pred = predT.dataSync() as Float32Array;
  tf.dispose([x, predT]);
  const t2 = performance.now();
  const no = 5 + weights.model.nc;
  const [first] = yolo.nonMaxSuppression(pred, [1, pred.length / no, no], {
    confThres: opts.confThres,
    iouThres: opts.iouThres,
    classes: opts.classes,
    agnostic: opts.agnosticNms,
    maxDet: opts.maxDet,
  });
  const det = first!.data.slice();
  yolo.scaleBoxes([height, width], det, [image.height, image.width], undefined, 6);
  const t3 = performance.now();
  return {
    file,
    det,
    input: [height, width],
    original: [image.height, image.width],
    ms: [t1 - t0, t2 - t1, t3 - t2],
    image,
  };
}

/** detect.py's per-image line: `image 1/8 /path/x.jpg: 480x640 2 persons, 1 bus, 12.3ms`. */
export function imageLine(index: number, total: number, r: ImageResult, names: readonly string[]): string {
  const counts = new Map<number, number>();
  for (let k = 5; k < r.det.length; k += 6) counts.set(r.det[k]!, (counts.get(r.det[k]!) ?? 0) + 1);
  let s = `image ${index + 1}/${total} ${r.file}: ${r.input[0]}x${r.input[1]} `;
  for (const c of [...counts.keys()].sort((a, b) => a - b))
    s += `${counts.get(c)} ${names[c] ?? c}${counts.get(c)! > 1 ? 's' : ''}, `;
  return `${s}${r.det.length ? '' : '(no detections), '}${r.ms[1]!.toFixed(1)}ms`;
}

const FORMATS: Record<string, 'png' | 'webp' | 'tiff'> = { png: 'png', webp: 'webp', tif: 'tiff', tiff: 'tiff' };

/** The annotated image, labels/<stem>.txt and crops/<class>/<stem>.jpg of one image. */
async function saveImage(
  opts: DetectOptions,
  saveDir: string,
  r: ImageResult & { image: data.RgbImage },
  names: readonly string[],
): Promise<void> {
  const boxes: BoxLabel[] = [];
  for (let k = 0; k < r.det.length; k += 6) {
    const [x1, y1, x2, y2, conf, cls] = Array.from(r.det.subarray(k, k + 6)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const name = names[cls] ?? String(cls);
    boxes.push({
      box: [x1, y1, x2, y2],
      cls,
      text: opts.hideLabels ? null : opts.hideConf ? name : `${name} ${conf.toFixed(2)}`,
    });
    if (opts.saveCrop) {
      const dir = path.join(saveDir, 'crops', name);
      fs.mkdirSync(dir, { recursive: true });
      writeFileAtomic(
        incrementPath(path.join(dir, `${path.parse(r.file).name}.jpg`)),
        await crop(r.image, [x1, y1, x2, y2]),
      );
    }
  }
  if (opts.saveTxt && r.det.length)
    writeFileAtomic(txtPath(saveDir, r.file), labelLines(r.det, r.original, opts.saveConf));
  if (!opts.nosave) {
    const format = FORMATS[path.extname(r.file).slice(1).toLowerCase()] ?? 'jpeg';
    writeFileAtomic(
      path.join(saveDir, path.basename(r.file)),
      await annotate(r.image, boxes, opts.lineThickness, format),
    );
  }
}

export async function runDetect(opts: DetectOptions): Promise<ImageResult[]> {
  const ranks = await openRanks(opts.backend);
  // YOLO_LOG_JSON as the trainer reads it (its switch table, @yolo-launch/train's train-env.ts)
  const log = new TrainLog(ranks.env.rank, { jsonConsole: readEnvSwitch('logJson', process.env) });
  try {
    const weights = loadWeights(opts.weights);
    try {
      const stride = Math.max(32, Math.max(...weights.model.stride));
      const imgsz = yolo.checkImgSize(opts.imgsz, stride);
      if (imgsz !== opts.imgsz)
        log.warn(`--img-size ${opts.imgsz} must be multiple of max stride ${stride}, updating to ${imgsz}`);
      const saveDir = await makeSaveDir(ranks, opts.project, opts.name, opts.existOk, opts.saveTxt ? ['labels'] : []);
      const mine: ImageResult[] = [];
      for (let i = ranks.shard.rank; i < opts.images.length; i += ranks.shard.world) {
        const r = await detectImage(weights, opts.images[i]!, { ...opts, imgsz }, stride);
        // every rank prints its own images (the launcher prefixes other ranks' lines)
        process.stdout.write(imageLine(i, opts.images.length, r, weights.names) + '\n');
        await saveImage(opts, saveDir, r, weights.names);
        mine.push({ file: r.file, det: r.det, input: r.input, original: r.original, ms: r.ms });
      }
      const all = await gatherAll(ranks, mine);
      if (ranks.isMain) {
        const t = [0, 1, 2].map((k) => all.reduce((s, r) => s + r.ms[k]!, 0) / Math.max(1, all.length));
        log.info(
          `Speed: ${t[0]!.toFixed(1)}ms pre-process, ${t[1]!.toFixed(1)}ms inference, ${t[2]!.toFixed(1)}ms NMS per image at shape (1, 3, ${imgsz}, ${imgsz})`,
        );
        const labels = opts.saveTxt
          ? `\n${fs.readdirSync(path.join(saveDir, 'labels')).filter((f) => f.endsWith('.txt')).length} labels saved to ${path.join(saveDir, 'labels')}`
          : '';
        if (opts.saveTxt || !opts.nosave) log.info(`Results saved to ${saveDir}${labels}`);
      }
      return all.sort((a, b) => opts.images.indexOf(a.file) - opts.images.indexOf(b.file));
    } finally {
      weights.model.dispose();
    }
  } finally {
    await ranks.group.destroy();
  }
}
