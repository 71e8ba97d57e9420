// Child of native.test.ts: prints load_image's pixel hashes computed in this process (run with
// YOLO_LAUNCH_DATA_NATIVE=0, so by sharp alone).
import crypto from 'node:crypto';
import { dataPathDescription, decodeResized, resizedSize, probeImage } from '../src/index.js';

export async function print(files: string[], sizes: number[]): Promise<void> {
  const hashes: string[] = [];
  for (const file of files) {
    const { width: w0, height: h0 } = await probeImage(file);
    for (const imgsz of sizes) {
      const [w, h] = resizedSize(w0, h0, imgsz);
      const img = await decodeResized(file, w, h, [w0, h0]);
      hashes.push(crypto.createHash('sha256').update(img.data).digest('hex'));
    }
  }
  process.stdout.write(JSON.stringify({ path: dataPathDescription(), hashes }));
}
