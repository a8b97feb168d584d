/**
 * Shared data types: documents, domains and splits.
 */

/** One cleaned document. `group` is the unit the split is decided on (a licence family, a file). */
export interface Doc {
  /** Stable id, unique within its domain, e.g. `brown/ca01`, `spdx/GPL-2.0-only`, `effect/src/Array.ts`. */
  readonly id: string;
  /** Cleaned text (deterministic, well-formed UTF-16). */
  readonly text: string;
  /** Split unit: documents with the same group always land in the same split. Defaults to `id`. */
  readonly group?: string;
}

/** Training domains (the paper's four) plus the held-out out-of-domain set. */
export const DOMAINS = ['general', 'law', 'code', 'math', 'ood'] as const;
/** A data domain. `ood` (Moby-Dick) is evaluation-only and never part of a training mix. */
export type Domain = (typeof DOMAINS)[number];
/** The four domains a training mix may draw from. */
export const TRAINING_DOMAINS = ['general', 'law', 'code', 'math'] as const satisfies readonly Domain[];

/** Deterministic document splits. */
export const SPLITS = ['train', 'validation', 'test'] as const;
/** A split name. */
export type Split = (typeof SPLITS)[number];

/** Fraction of split units in train / validation (the rest is test). */
export const SPLIT_FRACTIONS = { train: 0.8, validation: 0.1, test: 0.1 } as const;
