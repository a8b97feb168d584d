/**
 * Dense models the user trained elsewhere (`bam upcycle --seed DIR --expert code=DIR …`, bam
 * checkpoints including imported ones) stand in for the seed and experts stages: each becomes a
 * stage outcome whose content hash is its checkpoint's, so the mix and train-mixture artifacts
 * built from them stay content-addressed (`mixStageInputs` hashes the sources' content hashes).
 */
import { join, resolve } from 'node:path';
import { BamError, paramCounts, parseModelConfig, readCheckpoint, TRAINING_DOMAINS } from '@bam/core';
import { configHash } from '@bam/utils';
import { EXPERT_DOMAINS, type ExpertDomain } from '../config.ts';
import { checkCompatible } from '../recipes/index.ts';
import type { StageOutcome } from '../store.ts';
import { denseSourceOf, type CheckpointStageResult } from './context.ts';
/** A domain the mixture phase trains on: general or an expert domain. */
export type TrainingDomain = (typeof TRAINING_DOMAINS)[number];

/** The user's dense checkpoints: the seed (the general expert) and one expert per domain, in mixture order. */
export interface GivenDense {
  seed: string;
  experts: ReadonlyArray<{ domain: ExpertDomain; checkpoint: string }>;
}

/** Splits `DOMAIN=VALUE` pairs in order, each domain one of `domains` and given once; a BamError names a bad pair. */
function parsePairs(pairs: readonly string[], flag: string, domains: readonly string[], what: string): Array<{ domain: string; value: string }> {
  const out: Array<{ domain: string; value: string }> = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const domain = pair.slice(0, eq);
    if (eq <= 0 || eq === pair.length - 1) throw new BamError(`${flag} '${pair}' is not DOMAIN=${what}`, 'E_OPTION', `e.g. ${flag} code=path/to/${what.toLowerCase()}`);
    if (!domains.includes(domain)) throw new BamError(`${flag} '${pair}': unknown domain '${domain}'`, 'E_OPTION', `domains: ${domains.join(', ')}`);
    if (out.some((e) => e.domain === domain)) throw new BamError(`${flag}: domain '${domain}' is given twice`, 'E_OPTION', 'give one per domain');
    out.push({ domain, value: pair.slice(eq + 1) });
  }
  return out;
}

/** Parses `--expert DOMAIN=DIR` pairs (expert domains, in mixture order); at least one. */
export function parseGivenExperts(pairs: readonly string[], flag = '--expert'): GivenDense['experts'] {
  const out = parsePairs(pairs, flag, EXPERT_DOMAINS, 'DIR').map((p) => ({ domain: p.domain as ExpertDomain, checkpoint: p.value }));
  if (out.length === 0) throw new BamError(`no ${flag} given`, 'E_OPTION', `give one ${flag} DOMAIN=DIR per domain expert`);
  return out;
}

/** Parses `--data DOMAIN=FILE` pairs (the mixture phase's own text per training domain). */
export function parseDataFiles(pairs: readonly string[], flag = '--data'): Partial<Record<TrainingDomain, string>> {
  return Object.fromEntries(parsePairs(pairs, flag, TRAINING_DOMAINS, 'FILE').map((p) => [p.domain, p.value]));
}

/**
 * Checks the given checkpoints before any work: each readable (core validates its files), all
 * dense with one config and tokenizer — the recipes' own check (`checkCompatible`), whose error
 * names the differing field.
 */
export function checkGivenDense(given: GivenDense): void {
  const sources = [...given.experts.map((e) => denseSourceOf(e.checkpoint, `${e.domain} expert (${e.checkpoint})`)), denseSourceOf(given.seed, `seed (${given.seed})`)];
  checkCompatible(sources, 'given checkpoints');
}

/** A given checkpoint as a (reused) stage outcome: its content hash, training totals, metrics and size. */
export function givenOutcome(dir: string, stage: 'seed' | 'expert'): StageOutcome<CheckpointStageResult> {
  const abs = resolve(dir);
  const { manifest } = readCheckpoint(abs);
  const config = parseModelConfig(manifest.config, join(abs, 'checkpoint.json'));
  const counts = paramCounts(config);
  return {
    stage,
    hash: manifest.contentHash,
    dir: abs,
    checkpointDir: abs,
    reused: true,
    elapsedS: 0,
    result: {
      checkpoint: '.',
      contentHash: manifest.contentHash,
      tokensSeen: manifest.trainState?.tokensSeen ?? 0,
      flopsSpent: manifest.trainState?.flopsSpent ?? 0,
      steps: manifest.trainState?.step ?? 0,
      metrics: manifest.metrics ?? {},
      params: { total: counts.total, active: counts.active },
      configHash: configHash(config),
    },
  };
}
