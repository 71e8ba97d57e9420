export { YoloModel, createModel, checkAnchorOrder } from './model.js';
export type { CreateModelOptions, NamedParameter, NamedBuffer, StateTensor, StateDict, ParamGroup, LayerInfo } from './model.js';
export { readModelYaml, planModel, ModelConfigError } from './model-yaml.js';
export type { ModelYaml, YamlRow, LayerPlan, ModelOverrides, ModuleSpec } from './model-yaml.js';
export { localMoments, BatchNorm2d } from './nn/batchnorm.js';
export type { BatchMoments, MomentsFn, ForwardContext } from './nn/batchnorm.js';
export type { StateEntry, EntryRole } from './nn/state.js';
export { oihwToHwio, hwioToOihw, nchwToNhwc, nhwcToNchw } from './nn/layout.js';
export { modelYamlPath, MODEL_NAMES } from './models.js';
