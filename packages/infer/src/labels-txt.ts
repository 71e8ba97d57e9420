// YOLOv5's result files: labels/<stem>.txt (save_one_txt: `cls x y w h [conf]`, normalised
// by the original image, '%g ' formatting) and val.py's COCO JSON records (save_one_json).

import * as path from 'node:path';
import { formatG } from '@yolo-launch/train';

/** Python's '%g' (6 significant digits). */
function g(value: number): string {
  return formatG(value, 6);
}

/**
 * The lines of labels/<stem>.txt for detections [n, 6] (x1, y1, x2, y2, conf, cls in the
 * original image's pixels), original size (height, width).
 */
export function labelLines(det: ArrayLike<number>, [height, width]: [number, number], saveConf: boolean): string {
  let out = '';
  for (let r = 0; r + 6 <= det.length; r += 6) {
    const [x1, y1, x2, y2, conf, cls] = [det[r]!, det[r + 1]!, det[r + 2]!, det[r + 3]!, det[r + 4]!, det[r + 5]!];
    const cells = [cls, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height];
    if (saveConf) cells.push(conf);
    out += cells.map(g).join(' ') + '\n';
  }
  return out;
}

export function txtPath(saveDir: string, imagePath: string): string {
  return path.join(saveDir, 'labels', `${path.parse(imagePath).name}.txt`);
}

export interface CocoRecord {
  image_id: number | string;
  category_id: number;
  bbox: number[];
  score: number;
}

/** COCO's 91-index category ids for the 80 YOLO classes (coco80_to_coco91_class). */
export const COCO80_TO_91 = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36,
  37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67,
  70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
];

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** save_one_json: bbox as [x, y, w, h] from the top-left corner, rounded as val.py does. */
export function cocoRecords(det: ArrayLike<number>, imagePath: string, isCoco: boolean): CocoRecord[] {
  const stem = path.parse(imagePath).name;
  const imageId = /^\d+$/.test(stem) ? Number(stem) : stem;
  const records: CocoRecord[] = [];
  for (let r = 0; r + 6 <= det.length; r += 6) {
    const [x1, y1, x2, y2, conf, cls] = [det[r]!, det[r + 1]!, det[r + 2]!, det[r + 3]!, det[r + 4]!, det[r + 5]!];
    const category = isCoco ? COCO80_TO_91[cls]! : cls;
    records.push({
      image_id: imageId,
      category_id: category,
      bbox: [x1, y1, x2 - x1, y2 - y1].map((v) => round(v, 3)),
      score: round(conf, 5),
    });
  }
  return records;
}
