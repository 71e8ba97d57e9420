/**
 * Our decode gives the pixels of YOLOv5's: OpenCV's cv2.imread (BGR turned to RGB), which
 * applies the EXIF orientation and ignores embedded ICC profiles, on every coco128 photo, both
 * through the native addon (this process, when built) and through sharp (a child process with
 * YOLO_LAUNCH_DATA_NATIVE=0). Skipped, saying why, without a Python that imports cv2
 * (YOLOV5_PYTHON, default /usr/bin/python3) or without coco128 under ../shared.
 * Both decoders are libjpeg-turbo builds: if a system's OpenCV links another libjpeg, this test
 * says how far apart they are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { sharedDir, sharedJpegs } from './helpers.js';
import { hashesWithoutAddon, sha256 } from './native-hashes.js';
import { dataNative, dataPathDescription, decodeImage } from '../src/index.js';

const PYTHON = process.env.YOLOV5_PYTHON ?? '/usr/bin/python3';

// file list on stdin; per file: uint32 height, uint32 width (little-endian), then the RGB bytes
const IMREAD = `
import json, struct, sys, cv2
sys.stderr.write('OpenCV %s\\n' % cv2.__version__)
for f in json.load(sys.stdin):
    im = cv2.imread(f)
    if im is None: sys.exit('cv2.imread cannot read ' + f)
    sys.stdout.buffer.write(struct.pack('<II', im.shape[0], im.shape[1]))
    sys.stdout.buffer.write(im[:, :, ::-1].tobytes())
`;

interface Decoded {
  width: number;
  height: number;
  data: Uint8Array;
}

function imreadAll(files: string[]): { version: string; images: Decoded[] } {
  const run = spawnSync(PYTHON, ['-c', IMREAD], { input: JSON.stringify(files), maxBuffer: 1 << 30 });
  if (run.status !== 0) throw new Error(`${PYTHON} cv2.imread failed: ${run.stderr.toString()}`);
  const out = run.stdout;
  const images: Decoded[] = [];
  for (let at = 0; at < out.length;) {
    const height = out.readUInt32LE(at);
    const width = out.readUInt32LE(at + 4);
    const n = width * height * 3;
    images.push({ width, height, data: out.subarray(at + 8, at + 8 + n) });
    at += 8 + n;
  }
  return { version: run.stderr.toString().trim().split('\n')[0]!, images };
}

function whyNot(): string | false {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found (set YOLOV5_PYTHON to a Python with OpenCV)`;
  const probe = spawnSync(PYTHON, ['-c', 'import cv2'], { encoding: 'utf8' });
  if (probe.status !== 0) return `${PYTHON} cannot import cv2 (Debian: apt install python3-opencv)`;
  if (sharedJpegs(['coco128']).length === 0) return `no coco128 images under ${sharedDir}/datasets`;
  return false;
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test(
  'decodeImage = cv2.imread (RGB) on every coco128 photo, with and without the addon',
  { skip: whyNot() },
  async (t) => {
    const files = sharedJpegs(['coco128']);
    const cv = imreadAll(files);
    assert.equal(cv.images.length, files.length);
    const differ: string[] = [];
    for (const [i, file] of files.entries()) {
      const ours = await decodeImage(file);
      const want = cv.images[i]!;
      assert.deepEqual([ours.width, ours.height], [want.width, want.height], file);
      if (!Buffer.from(ours.data).equals(want.data))
        differ.push(`${file} (max ${maxDifference(ours.data, want.data)})`);
    }
    t.diagnostic(`${cv.version}; ${dataPathDescription()}: ${files.length - differ.length}/${files.length} identical`);
    assert.deepEqual(differ, [], `pixels differ from ${cv.version}'s imread`);
    if (!dataNative) return; // this process was the sharp path already
    const sharpPath = hashesWithoutAddon(files, []);
    assert.match(sharpPath.path, /^JS\/sharp/);
    const sharpDiffer = files.filter((file, i) => sharpPath.hashes[i] !== sha256(cv.images[i]!.data));
    t.diagnostic(`JS/sharp path: ${files.length - sharpDiffer.length}/${files.length} identical`);
    assert.deepEqual(sharpDiffer, [], `the sharp path's pixels differ from ${cv.version}'s imread`);
  },
);
