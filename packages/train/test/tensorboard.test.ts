import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { SummaryWriter, FILE_VERSION } from '../src/tensorboard/writer.js';
import { crc32c } from '../src/tensorboard/record.js';
import { summaryImageFromFile, summaryImageFromPixels } from '../src/tensorboard/image.js';
import { TrainTensorBoard } from '../src/tensorboard/logger.js';
import { RESULT_KEYS } from '../src/results.js';
import { readRecords, decodeEvent, referenceCrc32c, type DecodedEvent } from './helpers/tfrecord-reader.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'yl-tb-'));
}

function readEvents(file: string): DecodedEvent[] {
  const scan = readRecords(fs.readFileSync(file));
  assert.equal(scan.tailBytes, 0, 'no cut record at the end of a closed file');
  return scan.records.map(decodeEvent);
}

/** What three epochs of training log: YOLOv5's 13 keys per epoch, varied values. */
function epochValues(epoch: number): Record<string, number> {
  return Object.fromEntries(RESULT_KEYS.map((k, i) => [k, 1 / (1 + epoch + i) + (i === 6 ? 1e-7 : 0)]));
}

test('CRC-32C equals the RFC 3720 reference and its check values', () => {
  assert.equal(referenceCrc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(referenceCrc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const bytes = new Uint8Array(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  for (const n of [0, 1, 7, 100, 4096])
    assert.equal(crc32c(bytes.subarray(0, n)), referenceCrc32c(bytes.subarray(0, n)), `length ${n}`);
});

test('file name and wall times follow the clock, as TensorBoard names its files', () => {
  const dir = tmpDir();
  try {
    let clock = 1_767_225_600_000; // 2026-01-01T00:00:00Z, pinned
    const writer = new SummaryWriter(dir, { now: () => (clock += 250), hostname: 'node-a', pid: 4242 });
    assert.match(path.basename(writer.file), /^events\.out\.tfevents\.1767225600\.node-a\.4242\.\d+$/);
    writer.addScalar('train/box_loss', 0.5, 0);
    writer.close();
    assert.deepEqual(
      readEvents(writer.file).map((e) => e.wallTime),
      [1_767_225_600.5, 1_767_225_600.75],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('scalars, images and the file prefix a crash leaves', async () => {
  const dir = tmpDir();
  try {
    const writer = new SummaryWriter(dir, { hostname: 'host', pid: 1 });
    for (let epoch = 0; epoch < 3; epoch++) {
      writer.addScalars(epochValues(epoch), epoch);
      writer.flush();
    }
    const pixels = new Uint8Array(5 * 3 * 3).map((_, i) => (i * 37) % 256);
    writer.addImage('train_batch0', await summaryImageFromPixels(pixels, 5, 3, 3), 2);
    writer.close();

    const events = readEvents(writer.file);
    assert.equal(events[0]!.fileVersion, FILE_VERSION);
    assert.equal(events[0]!.values.length, 0);
    const scalars = events.slice(1, -1);
    assert.equal(scalars.length, 3 * RESULT_KEYS.length);
    for (const [n, event] of scalars.entries()) {
      const epoch = Math.floor(n / RESULT_KEYS.length);
      const key = RESULT_KEYS[n % RESULT_KEYS.length]!;
      assert.equal(event.step, epoch);
      assert.equal(event.values.length, 1);
      assert.equal(event.values[0]!.tag, key);
      assert.equal(event.values[0]!.simpleValue, Math.fround(epochValues(epoch)[key]!));
      assert.ok(event.wallTime >= events[0]!.wallTime && event.wallTime < Date.now() / 1000 + 1);
    }
    const image = events.at(-1)!;
    assert.equal(image.step, 2);
    assert.equal(image.values[0]!.tag, 'train_batch0');
    const { width, height, colorspace, encoded } = image.values[0]!.image!;
    assert.deepEqual([width, height, colorspace], [5, 3, 3]);
    assert.deepEqual([...encoded.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    const decoded = await sharp(encoded).raw().toBuffer();
    assert.deepEqual([...decoded], [...pixels], 'lossless round trip');

    // A crash at any byte leaves whole records followed by at most one cut record.
    const bytes = fs.readFileSync(writer.file);
    let previous = 0;
    for (let cut = 0; cut <= bytes.length; cut += 7) {
      const scan = readRecords(bytes.subarray(0, cut));
      assert.ok(scan.records.length >= previous);
      previous = scan.records.length;
      scan.records.forEach((r) => decodeEvent(r));
    }
    // ... and the reader would notice a flipped bit (so the CRCs above were checked).
    const corrupt = Buffer.from(bytes);
    corrupt[40]! ^= 1;
    assert.throws(() => readRecords(corrupt), /CRC mismatch/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('events reach the disk at flush, not before; two writers get two files', () => {
  const dir = tmpDir();
  try {
    const a = new SummaryWriter(dir);
    const b = new SummaryWriter(dir);
    assert.notEqual(a.file, b.file);
    a.addScalar('x/lr0', 0.01, 0);
    assert.equal(readEvents(a.file).length, 1, 'only file_version before flush');
    a.flush();
    assert.equal(readEvents(a.file).length, 2);
    assert.throws(() => a.addScalar('x/lr0', 0.01, -1), /non-negative integer/);
    a.close();
    b.close();
    assert.throws(() => a.addScalar('x/lr0', 0.01, 1), /closed/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an image file is logged as PNG with its size', async () => {
  const dir = tmpDir();
  try {
    const jpg = path.join(dir, 'labels.jpg');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 10 } } })
      .jpeg()
      .toFile(jpg);
    const image = await summaryImageFromFile(jpg);
    assert.deepEqual([image.width, image.height, image.colorspace], [40, 30, 3]);
    const meta = await sharp(image.encoded_image_string).metadata();
    assert.equal(meta.format, 'png');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// TensorBoard's own reader, when a Python with the tensorboard package is named (it cannot
// come from Debian; `pip install tensorboard` into a venv and set TENSORBOARD_PYTHON).
const LOAD_WITH_TENSORBOARD = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'images': 0})
acc.Reload()
tags = acc.Tags()
print(json.dumps({
  'scalars': {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags['scalars']},
  'images': {t: [[e.step, e.width, e.height] for e in acc.Images(t)] for t in tags['images']},
}))
`;

test(
  'TensorBoard itself reads the folder (TENSORBOARD_PYTHON)',
  { skip: process.env.TENSORBOARD_PYTHON ? false : 'TENSORBOARD_PYTHON not set' },
  async () => {
    const dir = tmpDir();
    try {
      const writer = new SummaryWriter(dir);
      for (let epoch = 0; epoch < 3; epoch++) {
        writer.addScalars(epochValues(epoch), epoch);
        writer.flush();
      }
      writer.addImage('results', await summaryImageFromPixels(new Uint8Array(8 * 6 * 3).fill(128), 8, 6, 3), 2);
      writer.close();
      const out = execFileSync(process.env.TENSORBOARD_PYTHON!, ['-c', LOAD_WITH_TENSORBOARD, dir], {
        encoding: 'utf8',
      });
      const loaded = JSON.parse(out) as {
        scalars: Record<string, [number, number][]>;
        images: Record<string, [number, number, number][]>;
      };
      assert.deepEqual(Object.keys(loaded.scalars).sort(), [...RESULT_KEYS].sort());
      for (const key of RESULT_KEYS) {
        assert.deepEqual(
          loaded.scalars[key],
          [0, 1, 2].map((epoch) => [epoch, Math.fround(epochValues(epoch)[key]!)]),
        );
      }
      assert.deepEqual(loaded.images, { results: [[2, 8, 6]] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("the trainer's logger: YOLOv5's start line, 13 tags per epoch, plot files as images, none with --evolve or --notensorboard", async () => {
  const dir = tmpDir();
  try {
    const saveDir = path.join(dir, 'runs', 'train', 'exp');
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(`warn: ${m}`) };
    assert.equal(TrainTensorBoard.open({ saveDir, evolve: true, disabled: false, log }), null);
    assert.equal(TrainTensorBoard.open({ saveDir, evolve: false, disabled: true, log }), null);
    assert.equal(fs.existsSync(saveDir), false, 'nothing written when off');
    const tb = TrainTensorBoard.open({ saveDir, evolve: false, disabled: false, log })!;
    assert.deepEqual(lines, [
      `TensorBoard: Start with 'tensorboard --logdir ${path.join(dir, 'runs', 'train')}', view at http://localhost:6006/`,
    ]);
    for (let epoch = 0; epoch < 2; epoch++)
      tb.epoch(
        RESULT_KEYS.map((k) => epochValues(epoch)[k]!),
        epoch,
      );
    await sharp({ create: { width: 16, height: 12, channels: 3, background: '#208040' } })
      .png()
      .toFile(path.join(saveDir, 'results.png'));
    await tb.images([path.join(saveDir, 'results.png'), path.join(saveDir, 'PR_curve.png')], 1);
    const file = tb.file!;
    tb.close();
    assert.equal(path.dirname(file), saveDir);
    const events = readEvents(file);
    const tags = events.slice(1).map((e) => `${e.step}:${e.values[0]!.tag}`);
    assert.deepEqual(tags, [...RESULT_KEYS.map((k) => `0:${k}`), ...RESULT_KEYS.map((k) => `1:${k}`), '1:results']);
    assert.equal(lines.length, 1, 'a missing plot file is skipped silently (--noplots)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
