// The teacher: its file read and checked before any work (prepare.ts), then built frozen on
// every rank (setup.ts). Frozen means: eval mode (BatchNorm running statistics, never
// updated), every variable non-trainable, and its forward run outside any gradient tape
// (distiller.ts), so it adds no backward memory and gets no gradient.

import * as yolo from '@yolo-launch/yolo';
import { loadCheckpoint, type Checkpoint } from '../checkpoint.js';
import { UsageError } from '../options.js';
import { ModelState } from '../model-state.js';

/** The teacher's checkpoint, refused (exit 2) when missing, unreadable, or trained on other classes. */
export function loadTeacherCheckpoint(file: string, dataset: { nc: number; names: string[] }): Checkpoint {
  let checkpoint: Checkpoint;
  try {
    checkpoint = loadCheckpoint(file);
  } catch (e) {
    const message = (e as Error).message;
    throw new UsageError(
      `--teacher-model-path ${file}: ${message}; give a YOLOv5 .pt (or one of our checkpoints) trained on this dataset`,
    );
  }
  const { nc, names } = checkpoint.meta;
  if (nc !== dataset.nc)
    throw new UsageError(
      `--teacher-model-path ${file}: the teacher predicts nc=${nc} classes, the dataset has nc=${dataset.nc}; distillation needs a teacher trained on the same classes (train one on this --data first)`,
    );
  const sameNames = names.length !== nc || names.every((n, i) => n === dataset.names[i]);
  if (!sameNames)
    throw new UsageError(
      `--teacher-model-path ${file}: the teacher's classes [${names.join(', ')}] are not the dataset's [${dataset.names.join(', ')}] (same order needed: the class terms compare class by class)`,
    );
  return checkpoint;
}

/** The frozen teacher model; its heads must line up with the student's (levels, strides, anchors per cell). */
export function buildTeacher(checkpoint: Checkpoint, file: string, student: yolo.YoloModel): yolo.YoloModel {
  const teacher = yolo.createModel(checkpoint.meta.model_yaml as unknown as yolo.ModelYaml, { nc: checkpoint.meta.nc });
  // YOLOv5's attempt_load: the EMA when the file has one, else the model
  new ModelState(teacher).loadTensors(checkpoint.ema ?? checkpoint.model, { strict: true });
  teacher.freezePrefixes(['model.']);
  if (String(teacher.stride) !== String(student.stride) || teacher.na !== student.na) {
    const describe = (m: yolo.YoloModel): string => `strides [${m.stride}], ${m.na} anchors per cell`;
    const message = `--teacher-model-path ${file}: the teacher's head (${describe(teacher)}) does not match the student's (${describe(student)}); distil between models with the same Detect levels (e.g. two P5 models)`;
    teacher.dispose();
    throw new UsageError(message);
  }
  return teacher;
}
