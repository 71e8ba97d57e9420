// Images for TensorBoard's Summary.Image: the plots the trainer already writes (JPEG or PNG
// files drawn by @yolo-launch/data and val), re-encoded as PNG by sharp, with the size and
// colour space TensorBoard needs.

import sharp from 'sharp';
import type { SummaryImage } from './proto.js';

/** PNG bytes, size and colorspace (3 = RGB, 4 = RGBA, ...) of an image file. */
export async function summaryImageFromFile(file: string): Promise<SummaryImage> {
  const { data, info } = await sharp(file).png().toBuffer({ resolveWithObject: true });
  return { height: info.height, width: info.width, colorspace: info.channels, encoded_image_string: data };
}

/** PNG of raw interleaved pixels (uint8 HWC, 1 to 4 channels). */
export async function summaryImageFromPixels(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
): Promise<SummaryImage> {
  const data = await sharp(pixels, { raw: { width, height, channels } }).png().toBuffer();
  return { height, width, colorspace: channels, encoded_image_string: data };
}
