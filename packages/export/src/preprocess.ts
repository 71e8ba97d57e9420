/**
 * What goes into an exported model (and detect.py's LoadImages): letterbox to the export
 * size with the 114 border (auto=False: a static graph takes exactly H x W), RGB, float 0-1.
 * The geometry comes back so boxes can be scaled to the original image (scale_boxes).
 */
import { decodeImage, letterbox, type LetterboxGeometry, type RgbImage } from '@yolo-launch/data';

export interface ModelInput {
  /** [1, H, W, 3] row-major (tfjs / TF.js web model). */
  nhwc: Float32Array;
  height: number;
  width: number;
  /** Original image (height, width). */
  original: [number, number];
  geometry: LetterboxGeometry;
}

export async function letterboxInput(
  image: RgbImage | string,
  [height, width]: [number, number],
  stride = 32,
): Promise<ModelInput> {
  const rgb = typeof image === 'string' ? await decodeImage(image) : image;
  const boxed = await letterbox(rgb, [height, width], { auto: false, stride });
  const nhwc = new Float32Array(boxed.image.data.length);
  for (let i = 0; i < nhwc.length; i++) nhwc[i] = boxed.image.data[i]! / 255;
  return { nhwc, height, width, original: [rgb.height, rgb.width], geometry: boxed };
}

/** NHWC [1, H, W, C] -> NCHW [1, C, H, W] (ONNX's `images`). */
export function toNchw(nhwc: Float32Array, height: number, width: number, channels = 3): Float32Array {
  const out = new Float32Array(nhwc.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) out[(c * height + y) * width + x] = nhwc[(y * width + x) * channels + c]!;
  return out;
}
