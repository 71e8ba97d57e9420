// PyTorch .pt checkpoints in and out (see README "PyTorch checkpoints"): read without
// executing anything, write files YOLOv5 v7.0 loads.
export { PtError } from './errors.js';
export type { PtErrorCode } from './errors.js';
export { readPt, readPtFile } from './read-checkpoint.js';
export type { PtCheckpoint, PtModel, PtStateDict, PtTensor } from './read-checkpoint.js';
export {
  checkpointModel,
  checkpointYaml,
  modelFromCheckpoint,
  loadStrict,
  intersectDicts,
  toStateDict,
} from './to-model.js';
export type { Transfer, WeightsSource } from './to-model.js';
export { encodeYolov5Checkpoint, float32Tensors } from './write-checkpoint.js';
export type { Yolov5CheckpointInput } from './write-checkpoint.js';
export { detectionModelObject, fromPlain, planStrides } from './module-tree.js';
export { openPtArchive, writePtArchive } from './archive.js';
export type { PtArchive } from './archive.js';
export { unpickle } from './unpickle.js';
export { pickle } from './pickle.js';
export { GLOBALS } from './globals.js';
export { toHalfBits, fromHalfBits } from './half.js';
export {
  PyFloat,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PyTuple,
  TensorOut,
  TorchStorage,
  TorchTensor,
  toPlain,
  sequenceItems,
} from './values.js';
export type { PyValue, OutDtype, StorageDtype } from './values.js';
