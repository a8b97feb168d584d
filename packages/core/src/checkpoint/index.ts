/** Checkpoints: safetensors files on plain arrays, and checkpoint directories (weights + JSON). */
export {
  encodeSafetensors,
  decodeSafetensors,
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
  f16ToF32,
  f32ToF16,
  f32ToBf16,
} from './safetensors.ts';
export type { SafeTensor, SafetensorsDType, SafetensorsFile } from './safetensors.ts';
export {
  CHECKPOINT_FILES,
  CheckpointManifestSchema,
  saveCheckpoint,
  readCheckpoint,
  loadCheckpoint,
  validateCheckpoint,
  checkFiniteWeights,
  restoreCheckpoint,
  checkWeightsMatch,
  listCheckpoints,
  latestCheckpoint,
  stepCheckpointName,
} from './checkpoint.ts';
export type {
  ValidatedCheckpoint,
  CheckpointManifest,
  CheckpointTokenizer,
  TrainState,
  ParamsModel,
  SaveCheckpointInput,
  RawCheckpoint,
  LoadedCheckpoint,
  OptimizerState,
  CheckpointableOptimizer,
} from './checkpoint.ts';
