/**
 * examples/web in a real headless browser (Debian's chromium through puppeteer-core): the page
 * loads the exported TF.js model from a local server on a port the OS picked, runs it on the
 * image the user picks, and the boxes it draws equal our detect pipeline's (letterbox,
 * predict, non_max_suppression, scale_boxes) for the same image. Without a chromium binary
 * the test is skipped and says so; CHROMIUM_PATH names another binary.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import sharp from 'sharp';
import { initBackend, tf } from '@yolo-launch/backend';
import type { RgbImage } from '@yolo-launch/data';
import { nonMaxSuppression, Rng, scaleBoxes } from '@yolo-launch/yolo';
import { buildExportGraph, graphModelFiles, letterboxInput, toTfjsGraph, writeDirAtomic } from '../src/index.js';
import { boostLogits, repoRoot, testModel } from './helpers.js';

const SIZE: [number, number] = [320, 320];
const CANDIDATES = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
];
const chromium = CANDIDATES.find((p): p is string => Boolean(p && existsSync(p)));

interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  conf: number;
  cls: number;
}

interface PageServer {
  url: string;
  close(): Promise<void>;
}

describe('examples/web in headless chromium', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-web-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });

  test(
    'the page draws the boxes our detect pipeline finds',
    {
      skip: chromium
        ? false
        : `chromium not found (${CANDIDATES.filter(Boolean).join(', ')}): the browser test did NOT run; apt-get install chromium`,
    },
    async (t) => {
      const model = testModel('yolov5n', 3, 5);
      boostLogits(model, 3.5, 1.5, 20);
      const modelDir = path.join(dir, 'best_web_model');
      writeDirAtomic(
        modelDir,
        graphModelFiles(
          toTfjsGraph(buildExportGraph(model), {
            height: SIZE[0],
            width: SIZE[1],
            batch: 1,
            metadata: { stride: 32, names: ['rectangle', 'ellipse', 'triangle'] },
            convertedBy: 'test',
          }),
        ),
      );
      const rgb = testPicture();
      const imageFile = path.join(dir, 'image.png');
      writeFileSync(
        imageFile,
        await sharp(Buffer.from(rgb.data), { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
          .png()
          .toBuffer(),
      );

      // A random-weights model scores many boxes exactly alike, and among equal scores which box
      // NMS keeps depends on sort order; with --iou-thres 1 NMS keeps every candidate, so the
      // boxes are a function of the model output alone (conf 0.25, class, letterbox, scale_boxes).
      const expected = await ourDetections(model, imageFile, 1);
      assert.ok(expected.length >= 10, `the test model should find boxes (found ${expected.length})`);
      const drawn = await pageDetections(modelDir, imageFile, 'backend=cpu&iou=1');
      t.diagnostic(`${expected.length} boxes in Node, ${drawn.length} drawn by the page`);
      assert.equal(drawn.length, expected.length);
      // the same set of boxes (order aside: a random-weights model gives many equal confidences)
      const unmatched = [...expected];
      for (const box of drawn) {
        const k = unmatched.findIndex(
          (want) =>
            want.cls === box.cls &&
            Math.abs(want.conf - box.conf) < 1e-4 &&
            (['x1', 'y1', 'x2', 'y2'] as const).every((c) => Math.abs(want[c] - box[c]) < 0.01),
        );
        assert.ok(k >= 0, `the page drew a box Node did not find: ${JSON.stringify(box)}`);
        unmatched.splice(k, 1);
      }
      assert.deepEqual(unmatched, []);
      model.dispose();
    },
  );
});

/**
 * A 320 x 256 picture of seeded colour blocks: letterbox only pads it (no resampling), so the
 * browser and Node see the same pixels.
 */
function testPicture(): RgbImage {
  const [width, height] = [320, 256];
  const rng = new Rng(11);
  const data = new Uint8Array(width * height * 3);
  const block = 8;
  for (let by = 0; by < height; by += block)
    for (let bx = 0; bx < width; bx += block) {
      const colour = [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
      for (let y = by; y < by + block; y++)
        for (let x = bx; x < bx + block; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = colour[c]!;
    }
  return { data, width, height };
}

/** detect.py's pipeline in Node on our forward: letterbox, predict, NMS (conf 0.25, max_det 1000), scale_boxes. */
async function ourDetections(model: ReturnType<typeof testModel>, imageFile: string, iouThres: number): Promise<Box[]> {
  const input = await letterboxInput(imageFile, SIZE);
  const pred = tf.tidy(() => model.predict(tf.tensor4d(input.nhwc, [1, ...SIZE, 3])));
  const [det] = nonMaxSuppression(await pred.data(), pred.shape as [number, number, number], {
    confThres: 0.25,
    iouThres,
    maxDet: 1000,
  });
  pred.dispose();
  const boxes: Box[] = [];
  for (let i = 0; i < det!.n; i++) {
    const row = det!.data.slice(i * 6, i * 6 + 6);
    scaleBoxes(SIZE, row, input.original, undefined, 6);
    boxes.push({ x1: row[0]!, y1: row[1]!, x2: row[2]!, y2: row[3]!, conf: row[4]!, cls: row[5]! });
  }
  return boxes;
}

async function pageDetections(modelDir: string, imageFile: string, query: string): Promise<Box[]> {
  const serve = (await import(pathToFileURL(path.join(repoRoot, 'examples/web/serve.mjs')).href)) as {
    startServer(o: { modelDir: string; port: number }): Promise<PageServer>;
  };
  const server = await serve.startServer({ modelDir, port: 0 });
  const browser = await puppeteer.launch({
    executablePath: chromium!,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(`${server.url}?${query}`);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
    const input = await page.$('#file');
    await input!.uploadFile(imageFile);
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 120_000 });
    // page functions run in the browser; they are passed as source so Node's types need no DOM
    const state = await page.evaluate('document.body.dataset.state');
    const status = await page.evaluate("document.getElementById('status').textContent");
    assert.equal(state, 'done', `page: ${status} ${errors.join('; ')}`);
    return (await page.evaluate('window.detections')) as Box[];
  } finally {
    await browser.close();
    await server.close();
  }
}
