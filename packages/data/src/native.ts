/**
 * The optional native addon (native/*.c, built by `npm run build`): libjpeg-turbo decode with
 * sharp's exact pixels, libvips' linear resize, and the warp, HSV and flip kernels in C with the JS arithmetic. When it
 * is missing (no compiler or libjpeg headers at build time), cannot load, or is turned off with
 * YOLO_LAUNCH_DATA_NATIVE=0, every caller runs the JS/sharp code, which gives the same bytes.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeDecoded {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DataNative {
  /**
   * JPEG at 1/scaleDenom size (libjpeg DCT scaling, cropped to floor(size / scaleDenom) as
   * libvips does), any ICC profile ignored; null when sharp would give other pixels (EXIF
   * rotation, CMYK, any libjpeg warning): the caller then decodes with sharp.
   */
  decodeJpeg(bytes: Uint8Array, scaleDenom: 1 | 2 | 4 | 8): Promise<NativeDecoded | null>;
  /** Fills dst with `border`, then dst(x, y) = src(inverse · (x, y)) as warp.ts does. */
  warpImage(
    src: Uint8Array,
    srcW: number,
    srcH: number,
    inverse: Float64Array,
    dst: Uint8Array,
    outW: number,
    outH: number,
    border: number,
  ): void;
  hsvApply(data: Uint8Array, lutH: Uint8Array, lutS: Uint8Array, lutV: Uint8Array): void;
  flipLr(data: Uint8Array, width: number, height: number): void;
  /**
   * dst (dstW x dstH RGB) = libvips' bytes for `sharp(raw).resize(dstW, dstH, { fit: 'fill',
   * kernel: 'linear' })` of src (native/resize.c); false, dst untouched, for the size pairs it
   * does not match (then the caller runs sharp).
   */
  resizeRgb(src: Uint8Array, srcW: number, srcH: number, dst: Uint8Array, dstW: number, dstH: number): boolean;
  /** e.g. "libjpeg-turbo 2.1.5". */
  readonly jpegLibrary: string;
}

/** Where the build puts the addon (packages/data/native/build/, from dist/src/). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../native/build/yolo_data_native.node', import.meta.url));

function load(): { addon: DataNative | null; why: string } {
  if (process.env.YOLO_LAUNCH_DATA_NATIVE === '0') return { addon: null, why: 'YOLO_LAUNCH_DATA_NATIVE=0' };
  if (!fs.existsSync(NATIVE_ADDON_PATH))
    return { addon: null, why: `not built (${NATIVE_ADDON_PATH} missing: see npm run build's SKIPPED line)` };
  try {
    return { addon: createRequire(import.meta.url)(NATIVE_ADDON_PATH) as DataNative, why: '' };
  } catch (e) {
    return { addon: null, why: `cannot load ${NATIVE_ADDON_PATH}: ${(e as Error).message.split('\n')[0]}` };
  }
}

const loaded = load();

/** The addon, or null: then the JS/sharp path runs. */
export const dataNative: DataNative | null = loaded.addon;

/** Which pixel path runs, in words (bench, doctor). */
export function dataPathDescription(): string {
  return dataNative
    ? `native addon (${dataNative.jpegLibrary} decode, C resize/warp/HSV/flip)`
    : `JS/sharp (native addon unavailable: ${loaded.why})`;
}
