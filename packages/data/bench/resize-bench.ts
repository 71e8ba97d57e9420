/**
 * CPU-ms per resize of raw RGB, one thread: the native addon's libvips-exact resize against
 * sharp's (what resizeImage ran before), on the sizes load_image meets. Median of
 * RESIZE_BENCH_REPEATS (default 60) calls each, alternating, process CPU time (sharp works on
 * libuv's pool, which process.cpuUsage covers). `node dist/bench/resize-bench.js`
 */
import { Rng, dataNative, dataPathDescription, resizeSharp, type RgbImage } from '../src/index.js';

const CASES: Array<[number, number, number, number, string]> = [
  [320, 213, 320, 214, 'a 1/2-scale decode of 640x427, imgsz 320'],
  [500, 375, 640, 480, 'upscale to imgsz 640'],
  [640, 480, 320, 240, 'full decode to imgsz 320 (the disk cache path)'],
];

function noise(width: number, height: number): RgbImage {
  const rng = new Rng(1);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.randint(0, 255);
  return { data, width, height };
}

async function cpuMs(run: () => unknown): Promise<number> {
  const c0 = process.cpuUsage();
  await run();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  if (!dataNative) throw new Error(`the native addon is needed: ${dataPathDescription()}`);
  const repeats = Number(process.env.RESIZE_BENCH_REPEATS ?? 60);
  console.log('| resize | what | addon CPU-ms | sharp CPU-ms | sharp / addon |');
  console.log('|---|---|---|---|---|');
  for (const [w0, h0, w, h, what] of CASES) {
    const src = noise(w0, h0);
    const dst = new Uint8Array(w * h * 3);
    const native: number[] = [];
    const viaSharp: number[] = [];
    for (let i = 0; i < repeats + 5; i++) {
      const n = await cpuMs(() => dataNative!.resizeRgb(src.data, w0, h0, dst, w, h));
      const s = await cpuMs(() => resizeSharp(src, w, h));
      if (i < 5) continue; // warm-up
      native.push(n);
      viaSharp.push(s);
    }
    const [a, b] = [median(native), median(viaSharp)];
    console.log(`| ${w0}x${h0} -> ${w}x${h} | ${what} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(b / a).toFixed(1)}x |`);
  }
}

await main();
