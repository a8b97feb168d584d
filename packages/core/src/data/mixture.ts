/**
 * Data mixtures: which domains a batch draws its rows from, and with what probability.
 *
 * Written as text (`"90% law + 10% general"`, `"0.5 code + 0.5 math"`, `"general"`) or as an object
 * (`{law: 0.9, general: 0.1}`). Weights must be finite, >= 0, and sum to 1 within 1e-6; zero
 * weights are dropped. The held-out `ood` domain is refused unless `allowOod` is set (evaluation
 * mixes only). The paper's mixes: each expert's continued pre-training holds 10% general text
 * (`expertMix`), and the mixture phase draws 25% from each domain (`EQUAL_MIX`).
 */
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { DOMAINS, TRAINING_DOMAINS, type Domain } from './types.ts';

/** Domain → probability, summing to 1, keys in `DOMAINS` order, no zero weights. Frozen. */
export type DataMixture = Readonly<Partial<Record<Domain, number>>>;

/** What `parseMixSpec` accepts. */
export type MixSpec = string | Readonly<Record<string, number>>;

/** Options of `parseMixSpec`. */
export interface MixOptions {
  /** Allow the held-out `ood` domain (for evaluation mixes only). Default false. */
  allowOod?: boolean;
}

const SUM_TOLERANCE = 1e-6;
const HINT = 'write it like "90% law + 10% general" or {law: 0.9, general: 0.1}; domains: general, law, code, math';

/** Parses and validates a mixture (see the module comment); throws a ConfigError listing every problem. */
export function parseMixSpec(spec: MixSpec, opts: MixOptions = {}): DataMixture {
  const issues: ConfigIssue[] = [];
  const entries: Array<[string, number]> = [];
  if (typeof spec === 'string') {
    const text = spec.trim();
    if (!text) issues.push({ path: '', message: 'the mixture is empty' });
    const terms = text ? text.split(/\s*[+,]\s*/) : [];
    terms.forEach((term, i) => {
      const t = term.trim();
      // "90% law", "0.9 law", "law: 0.9", "law=90%", or a bare "law" (weight 1).
      const m =
        /^(?<w>[-+]?\d*\.?\d+(?:e[-+]?\d+)?)\s*(?<pct>%)?\s*(?:of\s+)?(?<d>[a-z][\w-]*)$/i.exec(t) ??
        /^(?<d>[a-z][\w-]*)\s*[:=]\s*(?<w>[-+]?\d*\.?\d+(?:e[-+]?\d+)?)\s*(?<pct>%)?$/i.exec(t) ??
        /^(?<d>[a-z][\w-]*)$/i.exec(t);
      if (!m?.groups) {
        issues.push({ path: `term ${i + 1}`, message: `cannot read '${t}' (expected e.g. '90% law')` });
        return;
      }
      const w = m.groups.w === undefined ? 1 : Number(m.groups.w) / (m.groups.pct ? 100 : 1);
      entries.push([m.groups.d.toLowerCase(), w]);
    });
  } else if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
    for (const [d, w] of Object.entries(spec)) entries.push([d, w]);
    if (entries.length === 0) issues.push({ path: '', message: 'the mixture is empty' });
  } else {
    issues.push({ path: '', message: `expected a string or an object, got ${Array.isArray(spec) ? 'an array' : typeof spec}` });
  }

  const weights = new Map<Domain, number>();
  for (const [d, w] of entries) {
    if (!(DOMAINS as readonly string[]).includes(d)) {
      issues.push({ path: d, message: `unknown domain '${d}' (known: ${DOMAINS.join(', ')})` });
      continue;
    }
    const domain = d as Domain;
    if (domain === 'ood' && !opts.allowOod) {
      issues.push({ path: d, message: "'ood' is held out for evaluation and may not be part of a training mix" });
      continue;
    }
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      issues.push({ path: d, message: `weight must be a finite number >= 0, got ${String(w)}` });
      continue;
    }
    if (weights.has(domain)) {
      issues.push({ path: d, message: `domain '${d}' appears more than once` });
      continue;
    }
    weights.set(domain, w);
  }
  if (issues.length === 0) {
    const sum = [...weights.values()].reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > SUM_TOLERANCE) {
      issues.push({ path: '', message: `weights sum to ${+sum.toFixed(9)}, not 1 (tolerance ${SUM_TOLERANCE})` });
    }
  }
  if (issues.length > 0) throw new ConfigError('data mixture', issues, HINT);

  const out: Partial<Record<Domain, number>> = {};
  for (const d of DOMAINS) {
    const w = weights.get(d);
    if (w !== undefined && w > 0) out[d] = w;
  }
  return Object.freeze(out);
}

/** The mixture's domains and weights, in `DOMAINS` order. */
export function mixEntries(mix: DataMixture): Array<{ domain: Domain; weight: number }> {
  return DOMAINS.filter((d) => (mix[d] ?? 0) > 0).map((d) => ({ domain: d, weight: mix[d]! }));
}

/** Canonical text of a mixture, e.g. `90% law + 10% general` (largest weight first, then domain order). */
export function formatMix(mix: DataMixture): string {
  return mixEntries(mix)
    .sort((a, b) => b.weight - a.weight)
    .map((e) => `${+(e.weight * 100).toFixed(6)}% ${e.domain}`)
    .join(' + ');
}

/** The paper's continued pre-training mix for one expert: `1 - generalShare` of `domain`, the rest general. */
export function expertMix(domain: Exclude<Domain, 'ood'>, generalShare = 0.1): DataMixture {
  if (domain === 'general') return parseMixSpec({ general: 1 });
  return parseMixSpec({ [domain]: 1 - generalShare, general: generalShare });
}

/** The paper's mixture-phase data: 25% each of general, code, law and math. */
export const EQUAL_MIX: DataMixture = parseMixSpec(Object.fromEntries(TRAINING_DOMAINS.map((d) => [d, 1 / TRAINING_DOMAINS.length])));
