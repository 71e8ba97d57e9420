// load_image's pixel hashes, for native.test.ts: computed in its process (with the addon) and
// in a child started with YOLO_LAUNCH_DATA_NATIVE=0 (sharp alone), which calls print().
import crypto from 'node:crypto';
import { dataPathDescription, decodeResized, resizedSize, probeImage } from '../src/index.js';

/** SHA-256 of load_image's pixels for each file at each imgsz. */
export async function loadImageHashes(files: string[], sizes: number[]): Promise<string[]> {
  const hashes: string[] = [];
  for (const file of files) {
    const { width: w0, height: h0 } = await probeImage(file);
    for (const imgsz of sizes) {
      const [w, h] = resizedSize(w0, h0, imgsz);
      const img = await decodeResized(file, w, h, [w0, h0]);
      hashes.push(crypto.createHash('sha256').update(img.data).digest('hex'));
    }
  }
  return hashes;
}

export async function print(files: string[], sizes: number[]): Promise<void> {
  const hashes = await loadImageHashes(files, sizes);
  process.stdout.write(JSON.stringify({ path: dataPathDescription(), hashes }));
}
