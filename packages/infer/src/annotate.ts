// detect.py's Annotator for saved images: boxes in class colours and `name conf` labels drawn
// as an SVG over the original image (sharp composites it), as @yolo-launch/data's plots do;
// save_one_box for --save-crop.

import sharp from 'sharp';
import { classColor, type RgbImage } from '@yolo-launch/data';

export interface BoxLabel {
  box: [number, number, number, number];
  cls: number;
  /** null: no label text (--hide-labels). */
  text: string | null;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The annotated image as JPEG; line width as YOLOv5 (max(round(sum(shape) / 2 * 0.003), 2)) unless given. */
export async function annotate(
  image: RgbImage,
  boxes: BoxLabel[],
  lineThickness: number | null,
  format: 'jpeg' | 'png' | 'webp' | 'tiff' = 'jpeg',
): Promise<Buffer> {
  const { width, height } = image;
  const lw = lineThickness ?? Math.max(Math.round(((width + height) / 2) * 0.003), 2);
  const fontSize = Math.max(lw * 5, 10);
  let svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`;
  for (const { box, cls, text } of boxes) {
    const [x1, y1, x2, y2] = box;
    const color = classColor(cls);
    svg += `<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" fill="none" stroke="${color}" stroke-width="${lw}"/>`;
    if (!text) continue;
    const labelWidth = text.length * fontSize * 0.6 + 4;
    const top = y1 - fontSize - 3 >= 0 ? y1 - fontSize - 3 : y1;
    svg += `<rect x="${x1}" y="${top}" width="${labelWidth}" height="${fontSize + 3}" fill="${color}"/>`;
    svg += `<text x="${x1 + 2}" y="${top + fontSize}" font-family="sans-serif" font-size="${fontSize}" fill="white">${esc(text)}</text>`;
  }
  svg += '</svg>';
  return sharp(image.data, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), left: 0, top: 0 }])
    .toFormat(format, format === 'jpeg' ? { quality: 95 } : {})
    .toBuffer();
}

/** save_one_box: the box grown by gain 1.02 and 10 px, clipped to the image, as JPEG. */
export async function crop(image: RgbImage, box: [number, number, number, number]): Promise<Buffer> {
  const [x1, y1, x2, y2] = box;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  const w = (x2 - x1) * 1.02 + 10;
  const h = (y2 - y1) * 1.02 + 10;
  const clip = (v: number, hi: number): number => Math.min(Math.max(Math.trunc(v), 0), hi);
  const left = clip(cx - w / 2, image.width);
  const top = clip(cy - h / 2, image.height);
  const right = clip(cx + w / 2, image.width);
  const bottom = clip(cy + h / 2, image.height);
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .jpeg({ quality: 95 })
    .toBuffer();
}
