/**
 * Checkpoint directories: `model.safetensors` (weights by parameter name, docs/internals.md),
 * optional `optimizer.safetensors` (AdamW moments `m.<name>`, `v.<name>`, step in metadata) and
 * `checkpoint.json` (config, tokenizer, training state, metrics, hashes, version, time), and for
 * an imported model its Hugging Face `tokenizer.json`.
 *
 * A save writes the whole directory under a temporary name and renames it into place, so a
 * crash never leaves a half-written checkpoint under the real name. A load re-checks everything:
 * files present, JSON valid, sha256 of each weights file equal to the one recorded, tensors
 * exactly the config's parameters with the config's shapes.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { CheckpointError, ConfigError } from '../errors.ts';
import { parseModelConfig, type ModelConfig } from '../model/config.ts';
import { modelFromTensors, type BamModel } from '../model/model.ts';
import { paramSpecs } from '../model/params.ts';
import { bytesHash, configHash } from '@bam/utils';
import { TOKENIZER_FILES, fileTokenizerId, fileTokenizerKind, rememberTokenizerFile, tokenizerFileOf } from '../tokenizer/files.ts';
import { decodeSafetensors, encodeSafetensors, layoutHash, safetensorsLayout, writeLayout, type SafeTensor } from './safetensors.ts';

/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  manifest: 'checkpoint.json',
  weights: 'model.safetensors',
  optimizer: 'optimizer.safetensors',
} as const;

const CORE_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/**
 * What a checkpoint records about the tokenizer; `tokenizerSpecForCheckpoint(dir, id)` rebuilds
 * it. `file` is the tokenizer's own file (an `hf` tokenizer's tokenizer.json), saved beside the
 * weights; for an `hf` id without it, the file this process read under that id is saved.
 */
export interface CheckpointTokenizer {
  id: string;
  vocabSize: number;
  readonly file?: { name: string; bytes: Uint8Array };
}

/**
 * Where training stands: optimizer steps done, tokens and training FLOPs consumed, the seed, and
 * the data position (the next batch is `batch(dataPosition)`; equal to `step` for one run).
 */
export interface TrainState {
  step: number;
  tokensSeen: number;
  flopsSpent: number;
  seed: number;
  dataPosition: number;
}

const finiteNonNeg = z.number().finite().nonnegative();
const FileEntrySchema = z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() });

/**
 * Saved optimizer state as plain arrays: the update count and the two moments (`m`, `v`) of each
 * trainable parameter, as `optimizer.safetensors` holds them. The checkpoint defines this format;
 * the optimizer (train/adamw.ts) implements it.
 */
export interface OptimizerState {
  step: number;
  m: Map<string, SafeTensor>;
  v: Map<string, SafeTensor>;
}

/** An optimizer a checkpoint can save and restore exactly (AdamW implements it). */
export interface CheckpointableOptimizer {
  /** Adam's hyper-parameters, recorded in the metadata of `optimizer.safetensors`. */
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Reads the state back as plain arrays. */
  getState(): Promise<OptimizerState>;
  /** Restores a saved state; `file` names where it came from in errors. */
  setState(state: OptimizerState, file?: string): void;
}

/** The schema of `checkpoint.json`. */
export const CheckpointManifestSchema = z.strictObject({
  format: z.literal('bam-checkpoint'),
  formatVersion: z.literal(1),
  bamVersion: z.string(),
  createdAt: z.string(),
  config: z.unknown(),
  configHash: z.string(),
  tokenizer: z.strictObject({ id: z.string().min(1), vocabSize: z.number().int().positive() }),
  trainState: z.strictObject({
    step: z.number().int().nonnegative(),
    tokensSeen: finiteNonNeg,
    flopsSpent: finiteNonNeg,
    seed: z.number().int(),
    dataPosition: z.number().int().nonnegative(),
  }),
  metrics: z.record(z.string(), z.number().nullable()),
  /** sha256 of `model.safetensors` (the weights' content address). */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  files: z.strictObject({
    'model.safetensors': FileEntrySchema,
    'optimizer.safetensors': FileEntrySchema.optional(),
    'tokenizer.json': FileEntrySchema.optional(),
    'tokenizer.bin': FileEntrySchema.optional(),
  }),
  meta: z.record(z.string(), z.unknown()),
});

/** The parsed `checkpoint.json`. */
export type CheckpointManifest = z.infer<typeof CheckpointManifestSchema>;

/** Anything with named variables: a `BamModel`, or a test's hand-written model. */
export interface ParamsModel {
  config: unknown;
  params: Map<string, tf.Variable>;
}

/** What `saveCheckpoint` writes. */
export interface SaveCheckpointInput {
  /** The model, or its config and float32 tensors by name (an import writes these without building variables). */
  model: ParamsModel | { config: unknown; tensors: ReadonlyMap<string, SafeTensor> };
  /** A `Tokenizer` or just its `{id, vocabSize}`. */
  tokenizer: CheckpointTokenizer;
  /** Default: a fresh state (step 0, seed 0). */
  trainState?: Partial<TrainState>;
  /** The AdamW optimizer (or its state) to save beside the weights, for exact resume. */
  optimizer?: CheckpointableOptimizer | OptimizerState;
  /** Scalar metrics (losses, perplexities); non-finite values are stored as null. */
  metrics?: Record<string, number>;
  /** Free-form JSON (e.g. the stage that made it, parent checkpoints). */
  meta?: Record<string, unknown>;
}

/** A checkpoint read and validated at file level (hashes, safetensors format, manifest schema). */
export interface RawCheckpoint {
  dir: string;
  manifest: CheckpointManifest;
  weights: Map<string, SafeTensor>;
  optimizer?: OptimizerState;
}

async function variablesToTensors(params: Map<string, tf.Variable>): Promise<Map<string, SafeTensor>> {
  const out = new Map<string, SafeTensor>();
  for (const [name, v] of params) {
    if (v.dtype !== 'float32') throw new CheckpointError(CHECKPOINT_FILES.weights, `parameter '${name}' has dtype ${v.dtype}; bam saves float32 parameters`);
    out.set(name, { dtype: 'F32', shape: [...v.shape], data: (await v.data()) as Float32Array });
  }
  return out;
}

function optimizerTensors(state: OptimizerState): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [n, t] of state.m) out.set(`m.${n}`, t);
  for (const [n, t] of state.v) out.set(`v.${n}`, t);
  return out;
}

/**
 * Saves a checkpoint into `dir` atomically: everything is written into a temporary sibling
 * directory which is then renamed to `dir` (an existing `dir` is replaced). Reads the variables
 * back (async); the model and optimizer stay owned by the caller. Returns the manifest written.
 */
export async function saveCheckpoint(dir: string, input: SaveCheckpointInput): Promise<CheckpointManifest> {
  const tensors = 'tensors' in input.model ? new Map(input.model.tensors) : await variablesToTensors(input.model.params);
  // Laid out, not joined: hashed and written part by part, so saving never holds a second copy
  // of the weights (import peak memory, benchmarks/RESULTS.md).
  const weights = safetensorsLayout(tensors, { format: 'bam', configHash: configHash(input.model.config) });
  let optBytes: Uint8Array | undefined;
  if (input.optimizer) {
    const opt = input.optimizer;
    const state = 'getState' in opt ? await opt.getState() : opt;
    const meta: Record<string, string> = { format: 'bam-adamw', step: String(state.step) };
    if ('getState' in opt) {
      Object.assign(meta, { beta1: String(opt.beta1), beta2: String(opt.beta2), epsilon: String(opt.epsilon), weightDecay: String(opt.weightDecay) });
    }
    optBytes = encodeSafetensors(optimizerTensors(state), meta);
  }
  const tokFile = tokenizerFileToSave(input.tokenizer, dir);
  const given = input.trainState ?? {};
  const step = given.step ?? 0;
  const ts: TrainState = {
    step,
    tokensSeen: given.tokensSeen ?? 0,
    flopsSpent: given.flopsSpent ?? 0,
    seed: given.seed ?? 0,
    dataPosition: given.dataPosition ?? step,
  };
  const metrics: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(input.metrics ?? {})) metrics[k] = Number.isFinite(v) ? v : null;
  const contentHash = layoutHash(weights);
  const manifest: CheckpointManifest = {
    format: 'bam-checkpoint',
    formatVersion: 1,
    bamVersion: CORE_VERSION,
    createdAt: new Date().toISOString(),
    config: input.model.config,
    configHash: configHash(input.model.config),
    tokenizer: { id: input.tokenizer.id, vocabSize: input.tokenizer.vocabSize },
    trainState: ts,
    metrics,
    contentHash,
    files: {
      'model.safetensors': { sha256: contentHash, bytes: weights.bytes },
      ...(optBytes ? { 'optimizer.safetensors': { sha256: bytesHash(optBytes), bytes: optBytes.length } } : {}),
      ...(tokFile ? { [tokFile.name]: { sha256: bytesHash(tokFile.bytes), bytes: tokFile.bytes.length } } : {}),
    },
    meta: input.meta ?? {},
  };
  const parsed = CheckpointManifestSchema.safeParse(manifest);
  if (!parsed.success) {
    throw new CheckpointError(
      join(dir, CHECKPOINT_FILES.manifest),
      `refusing to write an invalid manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }

  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const stamp = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = join(parent, `.${basename(dir)}.tmp-${stamp}`);
  try {
    mkdirSync(tmp);
    writeLayout(join(tmp, CHECKPOINT_FILES.weights), weights);
    if (optBytes) writeFileSync(join(tmp, CHECKPOINT_FILES.optimizer), optBytes);
    if (tokFile) writeFileSync(join(tmp, tokFile.name), tokFile.bytes);
    writeFileSync(join(tmp, CHECKPOINT_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(dir)) {
      const old = join(parent, `.${basename(dir)}.old-${stamp}`);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return manifest;
}

/** The tokenizer file a save must write (tokenizer/files.ts): the tokenizer's own, or the one read under its id. */
function tokenizerFileToSave(tokenizer: CheckpointTokenizer, dir: string): { name: 'tokenizer.json' | 'tokenizer.bin'; bytes: Uint8Array } | undefined {
  const kind = fileTokenizerKind(tokenizer.id);
  if (!kind) return undefined;
  const name = TOKENIZER_FILES[kind];
  const bytes = tokenizer.file?.bytes ?? tokenizerFileOf(tokenizer.id);
  if (!bytes) {
    throw new CheckpointError(join(dir, name), `tokenizer '${tokenizer.id}' is defined by its file, but the file was neither given nor read in this process`, 'pass the tokenizer built by createTokenizer, or load the checkpoint it came from first');
  }
  if (fileTokenizerId(kind, bytes) !== tokenizer.id) throw new CheckpointError(join(dir, name), `the tokenizer file's content does not match its id '${tokenizer.id}'`);
  return { name, bytes };
}

function readChecked(dir: string, name: string, entry: { sha256: string; bytes: number }): Uint8Array {
  const path = join(dir, name);
  if (!existsSync(path)) throw new CheckpointError(path, 'file not found, though checkpoint.json lists it', 'the checkpoint is incomplete; use another checkpoint or re-save it');
  if (!statSync(path).isFile()) throw new CheckpointError(path, 'is a folder, not a file', 'the checkpoint is damaged; use another checkpoint or re-save it');
  const bytes = readFileSync(path);
  if (bytes.length !== entry.bytes) {
    throw new CheckpointError(path, `wrong length: ${bytes.length} bytes, checkpoint.json records ${entry.bytes} (truncated or replaced?)`, 'the file is damaged; use another checkpoint or re-save it');
  }
  const hash = bytesHash(bytes);
  if (hash !== entry.sha256) {
    throw new CheckpointError(path, `hash mismatch: sha256 ${hash.slice(0, 16)}… but checkpoint.json records ${entry.sha256.slice(0, 16)}…`, 'the file was modified or corrupted after saving; use another checkpoint or re-save it');
  }
  return bytes;
}

/**
 * Reads a checkpoint directory and validates it at file level: `checkpoint.json` present and
 * matching its schema, every listed file present with the recorded length and sha256, each a
 * well-formed safetensors file. Does not interpret the model config (see `loadCheckpoint`).
 * Throws `CheckpointError` naming the file.
 */
export function readCheckpoint(dir: string): RawCheckpoint {
  if (!existsSync(dir)) throw new CheckpointError(dir, 'directory not found', 'check the path; a checkpoint is a directory holding checkpoint.json and model.safetensors');
  if (!statSync(dir).isDirectory()) {
    throw new CheckpointError(dir, 'not a directory', 'a checkpoint is a directory holding checkpoint.json and model.safetensors');
  }
  const manifestPath = join(dir, CHECKPOINT_FILES.manifest);
  if (!existsSync(manifestPath)) {
    throw new CheckpointError(manifestPath, 'file not found', 'this directory is not a bam checkpoint, or its save was interrupted; use another checkpoint');
  }
  if (!statSync(manifestPath).isFile()) throw new CheckpointError(manifestPath, 'is a folder, not a file', 'this directory is not a bam checkpoint; use another checkpoint');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    throw new CheckpointError(manifestPath, `not valid JSON (${(err as Error).message})`, 'the file is damaged; use another checkpoint or re-save it');
  }
  const parsed = CheckpointManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new CheckpointError(
      manifestPath,
      `does not match the checkpoint schema:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`,
      'the file was hand-edited or written by another tool; re-save the checkpoint',
    );
  }
  const manifest = parsed.data;
  if (manifest.configHash !== configHash(manifest.config)) {
    throw new CheckpointError(manifestPath, `configHash ${manifest.configHash} does not match the config it records (${configHash(manifest.config)})`, 'the config was edited after saving; restore it or re-save the checkpoint');
  }
  if (manifest.files['model.safetensors'].sha256 !== manifest.contentHash) {
    throw new CheckpointError(manifestPath, 'contentHash differs from the recorded sha256 of model.safetensors');
  }
  const weightsPath = join(dir, CHECKPOINT_FILES.weights);
  const weights = decodeSafetensors(readChecked(dir, CHECKPOINT_FILES.weights, manifest.files['model.safetensors']), weightsPath).tensors;
  const tokKind = fileTokenizerKind(manifest.tokenizer.id);
  if (tokKind) {
    const name = TOKENIZER_FILES[tokKind];
    const tokEntry = manifest.files[name];
    if (!tokEntry) throw new CheckpointError(manifestPath, `tokenizer '${manifest.tokenizer.id}' is defined by ${name}, but files lists no ${name}`, 'the checkpoint is incomplete; re-import the model');
    const tokBytes = readChecked(dir, name, tokEntry);
    if (rememberTokenizerFile(tokKind, tokBytes) !== manifest.tokenizer.id) throw new CheckpointError(join(dir, name), `content does not match the tokenizer id '${manifest.tokenizer.id}'`, 'the file was replaced; re-import the model');
  }
  let optimizer: OptimizerState | undefined;
  const optEntry = manifest.files['optimizer.safetensors'];
  if (optEntry) {
    const optPath = join(dir, CHECKPOINT_FILES.optimizer);
    const file = decodeSafetensors(readChecked(dir, CHECKPOINT_FILES.optimizer, optEntry), optPath);
    const step = Number(file.metadata.step);
    if (!Number.isInteger(step) || step < 0) throw new CheckpointError(optPath, `metadata 'step' is missing or invalid (${file.metadata.step})`);
    const m = new Map<string, SafeTensor>();
    const v = new Map<string, SafeTensor>();
    for (const [name, t] of file.tensors) {
      if (name.startsWith('m.')) m.set(name.slice(2), t);
      else if (name.startsWith('v.')) v.set(name.slice(2), t);
      else throw new CheckpointError(optPath, `unexpected tensor '${name}' (optimizer tensors are named m.<param> and v.<param>)`);
    }
    optimizer = { step, m, v };
  }
  return { dir, manifest, weights, optimizer };
}

/**
 * Checks that `weights` holds exactly the parameters of `params` with the same shapes;
 * throws `CheckpointError` naming `file` and the first offending tensor.
 */
export function checkWeightsMatch(weights: ReadonlyMap<string, SafeTensor>, params: ReadonlyMap<string, { shape: readonly number[] }>, file: string): void {
  for (const [name, p] of params) {
    const t = weights.get(name);
    if (!t) throw new CheckpointError(file, `tensor '${name}' is missing (the config expects shape [${p.shape.join(', ')}])`, 'the weights were saved for a different config; check the checkpoint directory');
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new CheckpointError(file, `shape mismatch for tensor '${name}': expected [${p.shape.join(', ')}], got [${t.shape.join(', ')}]`, 'the weights were saved for a different config');
    }
    if (t.dtype === 'I32') throw new CheckpointError(file, `tensor '${name}' is I32; parameters must be floating point`);
  }
  for (const name of weights.keys()) {
    if (!params.has(name)) throw new CheckpointError(file, `extra tensor '${name}' is not a parameter of this config`, 'the weights were saved for a different config');
  }
}

/**
 * Restores a checkpoint into an existing model (and optionally its optimizer) in place: the
 * tensors must be exactly the model's parameters with its shapes. Returns the training state.
 * The trainer resumes with this; `loadCheckpoint` builds a fresh model with it.
 */
export function restoreCheckpoint(source: string | RawCheckpoint, model: ParamsModel, optimizer?: CheckpointableOptimizer): TrainState {
  const raw = typeof source === 'string' ? readCheckpoint(source) : source;
  const weightsPath = join(raw.dir, CHECKPOINT_FILES.weights);
  checkWeightsMatch(raw.weights, model.params, weightsPath);
  if (optimizer) {
    if (!raw.optimizer) throw new CheckpointError(join(raw.dir, CHECKPOINT_FILES.optimizer), 'file not found: this checkpoint holds no optimizer state', 'resume needs a checkpoint saved by the trainer (with optimizer state)');
    optimizer.setState(raw.optimizer, join(raw.dir, CHECKPOINT_FILES.optimizer));
  }
  for (const [name, p] of model.params) {
    const t = raw.weights.get(name)!;
    tf.tidy(() => p.assign(tf.tensor(t.data, p.shape, 'float32')));
  }
  return { ...raw.manifest.trainState };
}

const STEP_DIR = /^step-(\d+)$/;

/** The directory name the trainer uses for the checkpoint after `step` steps. */
export function stepCheckpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/**
 * Lists the trainer's checkpoints under `root` (directories `step-NNNNNNNN` holding a
 * `checkpoint.json`), oldest first. Half-written saves never appear (they live under a
 * temporary name until complete).
 */
export function listCheckpoints(root: string): Array<{ dir: string; step: number }> {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ name, m: STEP_DIR.exec(name) }))
    .filter((x) => x.m && existsSync(join(root, x.name, CHECKPOINT_FILES.manifest)))
    .map((x) => ({ dir: join(root, x.name), step: Number(x.m![1]) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest trainer checkpoint under `root`, or undefined when there is none. */
export function latestCheckpoint(root: string): string | undefined {
  const all = listCheckpoints(root);
  return all.length ? all[all.length - 1].dir : undefined;
}

/** A checkpoint loaded as a ready model. The caller owns `model` (dispose with `disposeModel`). */
export interface LoadedCheckpoint {
  dir: string;
  model: BamModel;
  config: ModelConfig;
  tokenizer: CheckpointTokenizer;
  trainState: TrainState;
  /** AdamW state when the checkpoint holds one (feed it to `AdamW.setState`). */
  optimizerState?: OptimizerState;
  metrics: Record<string, number | null>;
  meta: Record<string, unknown>;
  manifest: CheckpointManifest;
}

/**
 * Throws `CheckpointError` naming `file` and the first tensor of `weights` holding NaN or ±Infinity:
 * such weights make every forward NaN, so loading, mixing and inspecting refuse them.
 */
export function checkFiniteWeights(weights: ReadonlyMap<string, SafeTensor>, file: string): void {
  for (const [name, t] of weights) {
    const data = t.data;
    for (let i = 0; i < data.length; i++) {
      if (Number.isFinite(data[i])) continue;
      let count = 0;
      for (let j = i; j < data.length; j++) if (!Number.isFinite(data[j])) count++;
      throw new CheckpointError(
        file,
        `tensor '${name}' holds ${count} non-finite value${count === 1 ? '' : 's'} (first: ${data[i]} at index ${i})`,
        'training diverged before this checkpoint was saved; use an earlier checkpoint',
      );
    }
  }
}

/** A checkpoint that passed every check loading makes, with its parsed model config. */
export interface ValidatedCheckpoint extends RawCheckpoint {
  config: ModelConfig;
}

/**
 * Every check `loadCheckpoint` makes, without building a model (no tensor backend needed):
 * `readCheckpoint`'s file-level checks, the model config against the schema, the tokenizer fitting
 * the vocabulary, the tensors exactly the config's parameters (names and shapes, none missing,
 * none extra), every weight finite. Throws `CheckpointError` naming the file (and the tensor, or
 * the config fields, at fault). `bam inspect` and the mix stage's sources use it as well.
 */
export function validateCheckpoint(source: string | RawCheckpoint): ValidatedCheckpoint {
  const raw = typeof source === 'string' ? readCheckpoint(source) : source;
  const manifestPath = join(raw.dir, CHECKPOINT_FILES.manifest);
  let config: ModelConfig;
  try {
    config = parseModelConfig(raw.manifest.config, manifestPath);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new CheckpointError(
      manifestPath,
      `its model config fails the schema:\n${err.issues.map((i) => `  - config.${i.path || '(root)'}: ${i.message}`).join('\n')}`,
      'the checkpoint was written by another bam version or edited by hand; fix the config fields listed above',
    );
  }
  const { tokenizer } = raw.manifest;
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new CheckpointError(manifestPath, `tokenizer '${tokenizer.id}' has ${tokenizer.vocabSize} ids but the model config only ${config.vocabSize}`, 'the tokenizer would emit ids the model has no embedding for; re-save the checkpoint with the tokenizer it was trained with');
  }
  const weightsPath = join(raw.dir, CHECKPOINT_FILES.weights);
  checkWeightsMatch(raw.weights, new Map(paramSpecs(config).map((p) => [p.name, p])), weightsPath);
  checkFiniteWeights(raw.weights, weightsPath);
  return { ...raw, config };
}

/**
 * Loads a checkpoint directory into a new model, after every check of `validateCheckpoint`.
 * Throws `CheckpointError` naming the file (and the tensor, or the config fields, at fault).
 * Given a checkpoint `validateCheckpoint` already returned (checked before a backend was
 * chosen, as `bam train --init` does), builds the model from it without reading it again.
 */
export function loadCheckpoint(source: string | ValidatedCheckpoint): LoadedCheckpoint {
  const raw = typeof source === 'string' ? validateCheckpoint(source) : source;
  const { dir } = raw;
  const { config } = raw;
  const { tokenizer } = raw.manifest;
  const specs = paramSpecs(config);
  const tensors = new Map<string, tf.Tensor>();
  try {
    for (const spec of specs) tensors.set(spec.name, tf.tensor(raw.weights.get(spec.name)!.data, spec.shape, 'float32'));
    const model = modelFromTensors(config, tensors);
    return {
      dir,
      model,
      config,
      tokenizer,
      trainState: { ...raw.manifest.trainState },
      optimizerState: raw.optimizer,
      metrics: raw.manifest.metrics,
      meta: raw.manifest.meta,
      manifest: raw.manifest,
    };
  } finally {
    tensors.forEach((t) => t.dispose());
  }
}
