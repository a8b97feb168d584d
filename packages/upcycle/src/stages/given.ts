/**
 * Dense models the user trained elsewhere (`bam upcycle --seed DIR --expert code=DIR …`, bam
 * checkpoints including imported ones) stand in for the seed and experts stages: each becomes a
 * stage outcome whose content hash is its checkpoint's, so the mix and train-mixture artifacts
 * built from them stay content-addressed (`mixStageInputs` hashes the sources' content hashes).
 */
import { join, resolve } from 'node:path';
import { BamError, paramCounts, parseModelConfig, readCheckpoint } from '@bam/core';
import { configHash } from '@bam/utils';
import { EXPERT_DOMAINS, type ExpertDomain } from '../config.ts';
import { checkCompatible } from '../recipes/index.ts';
import type { StageOutcome } from '../store.ts';
import { denseSourceOf, type CheckpointStageResult } from './context.ts';

/** The user's dense checkpoints: the seed (the general expert) and one expert per domain, in mixture order. */
export interface GivenDense {
  seed: string;
  experts: ReadonlyArray<{ domain: ExpertDomain; checkpoint: string }>;
}

/**
 * Parses `domain=DIR` pairs (`--expert code=DIR`) in order; a bad pair, an unknown or repeated
 * domain is a BamError naming it.
 */
export function parseGivenExperts(pairs: readonly string[], flag = '--expert'): GivenDense['experts'] {
  const out: Array<{ domain: ExpertDomain; checkpoint: string }> = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const domain = pair.slice(0, eq);
    if (eq <= 0 || eq === pair.length - 1) throw new BamError(`${flag} '${pair}' is not DOMAIN=DIR`, 'E_OPTION', `e.g. ${flag} code=path/to/checkpoint`);
    if (!(EXPERT_DOMAINS as readonly string[]).includes(domain)) throw new BamError(`${flag} '${pair}': unknown domain '${domain}'`, 'E_OPTION', `expert domains: ${EXPERT_DOMAINS.join(', ')}`);
    if (out.some((e) => e.domain === domain)) throw new BamError(`${flag}: domain '${domain}' is given twice`, 'E_OPTION', 'give one checkpoint per domain');
    out.push({ domain: domain as ExpertDomain, checkpoint: pair.slice(eq + 1) });
  }
  if (out.length === 0) throw new BamError(`no ${flag} given`, 'E_OPTION', `give one ${flag} DOMAIN=DIR per domain expert`);
  return out;
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
