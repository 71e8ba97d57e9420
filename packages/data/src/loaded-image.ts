// One image as the loaders hand it on: resized, with its original size. Its own file because
// both the image store and the per-node RAM cache produce it.
import type { RgbImage } from './image.js';

export interface LoadedImage {
  /** Resized image (long side imgsz). */
  image: RgbImage;
  /** Original size. */
  h0: number;
  w0: number;
  /**
   * The pixels live in a reused buffer (node cache ring): valid until ~20 more loads on this
   * thread. Copy before handing them to asynchronous work.
   */
  transient?: boolean;
}
