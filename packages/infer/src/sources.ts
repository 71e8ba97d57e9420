// detect.py's --source for files on disk: an image, a folder (its images, sorted), or a glob
// (`*`, `?` and `**` as Python's glob(recursive=True)). Videos, streams and URLs are refused by
// name; a source with no image is refused (exit 2) before any work.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { IMG_FORMATS } from '@yolo-launch/data';
import { UsageError } from '@yolo-launch/export';

/** ultralytics VID_FORMATS. */
export const VID_FORMATS = ['asf', 'avi', 'gif', 'm4v', 'mkv', 'mov', 'mp4', 'mpeg', 'mpg', 'ts', 'wmv'] as const;

const suffix = (file: string): string => path.extname(file).slice(1).toLowerCase();

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, out: string[]): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(file, out);
    else out.push(file);
  }
}

/** The files a glob names: walk from the part before the first wildcard. */
function globFiles(pattern: string): string[] {
  const absolute = path.resolve(pattern);
  const parts = absolute.split(path.sep);
  const firstWild = parts.findIndex((p) => /[*?]/.test(p));
  const root = parts.slice(0, firstWild).join(path.sep) || path.sep;
  if (!fs.existsSync(root)) return [];
  const all: string[] = [];
  walk(root, all);
  const re = globToRegExp(absolute.split(path.sep).join('/'));
  return all.filter((f) => re.test(f.split(path.sep).join('/')));
}

/** The images of --source, sorted as detect.py's LoadImages sorts them. */
export function listSource(source: string): string[] {
  if (
    /^(rtsp|rtmp|http|https):\/\//i.test(source) ||
    /^\d+$/.test(source) ||
    source.endsWith('.streams') ||
    source === 'screen'
  )
    throw new UsageError(
      `--source ${source}: webcams, streams, URLs and screenshots are not supported; give an image, a folder or a glob`,
    );
  let files: string[];
  if (/[*?]/.test(source)) files = globFiles(source);
  else if (!fs.existsSync(source)) throw new UsageError(`--source ${source} does not exist`);
  else if (fs.statSync(source).isDirectory()) {
    files = fs
      .readdirSync(source)
      .filter((f) => !f.startsWith('.'))
      .map((f) => path.join(source, f));
  } else files = [source];
  const videos = files.filter((f) => (VID_FORMATS as readonly string[]).includes(suffix(f)));
  if (videos.length)
    throw new UsageError(
      `--source: ${videos[0]} is a video; videos are not supported here, extract its frames (e.g. ffmpeg -i in.mp4 frames/%06d.jpg) and pass the folder`,
    );
  const images = files
    .filter((f) => (IMG_FORMATS as readonly string[]).includes(suffix(f)))
    .map((f) => path.resolve(f));
  images.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (!images.length)
    throw new UsageError(`--source ${source}: no images found; supported formats are ${IMG_FORMATS.join(', ')}`);
  return images;
}
