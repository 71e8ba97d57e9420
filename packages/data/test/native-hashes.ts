// Pixel hashes for native.test.ts and opencv-parity.test.ts: computed in the test's process (with
// the addon, when built) and in a child started with YOLO_LAUNCH_DATA_NATIVE=0 (sharp alone),
// which calls print().
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { dataPathDescription, decodeImage, decodeResized, resizedSize, probeImage } from '../src/index.js';

export function sha256(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** SHA-256 of load_image's pixels for each file at each imgsz; with no sizes, of decodeImage's (full size). */
export async function loadImageHashes(files: string[], sizes: number[]): Promise<string[]> {
  const hashes: string[] = [];
  for (const file of files) {
    if (sizes.length === 0) hashes.push(sha256((await decodeImage(file)).data));
    const { width: w0, height: h0 } = await probeImage(file);
    for (const imgsz of sizes) {
      const [w, h] = resizedSize(w0, h0, imgsz);
      hashes.push(sha256((await decodeResized(file, w, h, [w0, h0])).data));
    }
  }
  return hashes;
}

export async function print(files: string[], sizes: number[]): Promise<void> {
  const hashes = await loadImageHashes(files, sizes);
  process.stdout.write(JSON.stringify({ path: dataPathDescription(), hashes }));
}

/** loadImageHashes(files, sizes) in a child process without the addon: the JS/sharp path's hashes. */
export function hashesWithoutAddon(files: string[], sizes: number[]): { path: string; hashes: string[] } {
  const self = new URL('native-hashes.js', import.meta.url).href;
  const script = `import(${JSON.stringify(self)}).then((m) => m.print(${JSON.stringify(files)}, ${JSON.stringify(sizes)}))`;
  const child = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, YOLO_LAUNCH_DATA_NATIVE: '0' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (child.status !== 0) throw new Error(`the child without the addon failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as { path: string; hashes: string[] };
}
