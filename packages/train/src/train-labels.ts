// The training labels: every class must exist in the model, and labels.jpg (plot_labels).

import * as path from 'node:path';
import * as data from '@yolo-launch/data';
import { UsageError } from './options.js';
import type { PreparedRun } from './context.js';
import type { BatchSource } from './batches.js';

export async function plotLabels(
  run: PreparedRun,
  trainLoader: BatchSource & { dataset: data.YoloDataset },
  saveDir: string,
): Promise<void> {
  try {
    await data.plotLabels(trainLoader.dataset, path.join(saveDir, 'labels.jpg'));
    run.log.info(`Plotting labels to ${path.join(saveDir, 'labels.jpg')}... `);
  } catch (e) {
    run.log.warn(`labels.jpg not written: ${(e as Error).message}`);
  }
}

/** Every label class must exist in the model. */
export function checkLabelClasses(dataset: data.YoloDataset, nc: number, dataYaml: string): void {
  let maxLabelClass = -1;
  for (const l of dataset.labels) for (let i = 0; i < l.length; i += 5) maxLabelClass = Math.max(maxLabelClass, l[i]!);
  if (maxLabelClass >= nc)
    throw new UsageError(
      `Label class ${maxLabelClass} exceeds nc=${nc} in ${dataYaml}. Possible class labels are 0-${nc - 1}`,
    );
}
