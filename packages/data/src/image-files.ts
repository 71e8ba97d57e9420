/** Image listing and the images/ -> labels/ rule of LoadImagesAndLabels. */
import fs from 'node:fs';
import path from 'node:path';

/** ultralytics IMG_FORMATS (suffixes accepted as images). */
export const IMG_FORMATS = ['bmp', 'dng', 'jpeg', 'jpg', 'mpo', 'png', 'tif', 'tiff', 'webp', 'pfm'] as const;

function walk(dir: string, out: string[]): void {
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    if (ent.name.startsWith('.')) continue; // glob('**/*.*') skips hidden entries
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) walk(p, out);
    else if (ent.name.includes('.')) out.push(p);
  }
}

/**
 * Lists the images of one split: each source is a folder (searched recursively) or a .txt
 * list of image paths ('./x' lines are relative to the list's folder). Sorted by path.
 */
export function listImageFiles(sources: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of sources) {
    if (!fs.existsSync(p)) throw new Error(`${p} does not exist: check the dataset YAML's path/train/val entries`);
    if (fs.statSync(p).isDirectory()) walk(p, files);
    else {
      const parent = path.dirname(p) + path.sep;
      const lines = fs
        .readFileSync(p, 'utf8')
        .trim()
        .split(/\r\n|\r|\n/);
      for (const line of lines) {
        if (!line) continue;
        files.push(line.startsWith('./') ? line.replace('./', parent) : line);
      }
    }
  }
  const images = files.filter((f) =>
    (IMG_FORMATS as readonly string[]).includes((f.split('.').pop() ?? '').toLowerCase()),
  );
  // Python sorts by code point; compare without locale to match it
  images.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (images.length === 0)
    throw new Error(`No images found in ${sources.join(', ')}; supported formats are ${IMG_FORMATS.join(', ')}`);
  return images;
}

/** '/x/images/a/b.jpg' -> '/x/labels/a/b.txt' (last '/images/' replaced, suffix swapped). */
export function img2labelPath(imgPath: string): string {
  const sa = `${path.sep}images${path.sep}`;
  const sb = `${path.sep}labels${path.sep}`;
  const i = imgPath.lastIndexOf(sa);
  const swapped = i >= 0 ? imgPath.slice(0, i) + sb + imgPath.slice(i + sa.length) : imgPath;
  const dot = swapped.lastIndexOf('.');
  return (dot >= 0 ? swapped.slice(0, dot) : swapped) + '.txt';
}
