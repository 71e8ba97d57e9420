/**
 * A verified split: the images that survived verify_image_label, their labels and sizes.
 * Plain data (structured-cloneable), so it can be handed to loader worker threads.
 */
import { loadDatasetYaml, type DatasetConfig, type SplitName } from './dataset-yaml.js';
import { listImageFiles } from './image-files.js';
import { scanLabels, type LabelScan } from './label-cache.js';

export interface YoloDataset {
  /** Image paths in dataset order (sorted by path, corrupt pairs removed). */
  imFiles: string[];
  /** Per image n x 5 float32 rows [class, x, y, w, h] (normalized xywh). */
  labels: Float32Array[];
  /** Per image (width, height) after EXIF orientation. */
  shapes: Array<[number, number]>;
  names: string[];
  nc: number;
}

export interface LoadSplitOptions {
  prefix?: string;
  /** Refuse a split with no label files at all (training does; validation may be label-free). */
  requireLabels?: boolean;
  /** Every class becomes 0 (--single-cls). */
  singleCls?: boolean;
  /** Write the label cache (local rank 0); other ranks read it. Default true. */
  writeCache?: boolean;
  log?: (line: string) => void;
}

export interface LoadedSplit {
  dataset: YoloDataset;
  scan: LabelScan;
  config: DatasetConfig;
}

export class NoLabelsError extends Error {
  override name = 'NoLabelsError';
}

/** Loads one split (train/val/test) of a dataset YAML or config: listing, verification, cache. */
export async function loadSplit(
  data: string | DatasetConfig,
  split: SplitName,
  opts: LoadSplitOptions = {},
): Promise<LoadedSplit> {
  const config = typeof data === 'string' ? loadDatasetYaml(data) : data;
  const sources = config[split];
  if (!sources || sources.length === 0) throw new Error(`${config.yamlFile || 'dataset'}: no '${split}' split defined`);
  const imFiles = listImageFiles(sources);
  const scan = await scanLabels(imFiles, sources, {
    nc: config.nc,
    ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
    ...(opts.writeCache !== undefined ? { writeCache: opts.writeCache } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  if (opts.requireLabels && scan.totals.found === 0) {
    throw new NoLabelsError(
      `${opts.prefix ?? ''}No labels found in ${scan.cacheFile}, can not start training. Labels must sit in a 'labels' folder beside 'images' (same relative path, .txt per image).`,
    );
  }
  const kept = scan.results.filter((r) => r.status !== 'corrupt' && r.shape);
  const dataset: YoloDataset = {
    imFiles: kept.map((r) => r.imFile),
    labels: kept.map((r) => {
      const l = Float32Array.from(r.labels);
      if (opts.singleCls) for (let i = 0; i < l.length; i += 5) l[i] = 0;
      return l;
    }),
    shapes: kept.map((r) => r.shape as [number, number]),
    names: opts.singleCls ? ['item'] : config.names,
    nc: opts.singleCls ? 1 : config.nc,
  };
  if (dataset.imFiles.length === 0)
    throw new NoLabelsError(
      `${opts.prefix ?? ''}every image of ${split} is corrupt or unreadable; see the warnings above`,
    );
  return { dataset, scan, config };
}
