import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadCodeCorpus, stripLicenceHeaders } from '../../src/data/corpora/code.ts';
import { cleanBrownFile, detokenizeBrownSentence, loadBrown, loadSotu } from '../../src/data/corpora/general.ts';
import { licenseNameKey, loadLawCorpus } from '../../src/data/corpora/law.ts';
import { cleanStdlibReadme, loadStdlibReadmes } from '../../src/data/corpora/math.ts';
import { loadOodCorpus } from '../../src/data/corpora/ood.ts';
import { domainCorpus } from '../../src/data/index.ts';
import type { Doc } from '../../src/data/types.ts';

function digest(docs: readonly Doc[]): string {
  const h = createHash('sha256');
  for (const d of docs) h.update(d.id).update('\u0000').update(d.group ?? '').update('\u0000').update(d.text).update('\u0001');
  return h.digest('hex');
}

const bytesOf = (docs: readonly Doc[]): number => docs.reduce((a, d) => a + Buffer.byteLength(d.text), 0);

describe('general corpus (Brown + State of the Union)', () => {
  it('strips Brown part-of-speech tags and rebuilds punctuation and quotes', () => {
    expect(detokenizeBrownSentence("The/at jury/nn said/vbd ,/, ``/`` it/pps was/bedz fine/jj ''/'' ./.")).toBe('The jury said, "it was fine".');
    expect(detokenizeBrownSentence('a/at pitch/nn 3/cd (/( pretty/ql high/jj )/) on/in and/or/cc Jr./np ./.')).toBe('a pitch 3 (pretty high) on and/or Jr.');
    expect(cleanBrownFile('\n\n\tOne/cd ./.\nTwo/cd ;/. ;/.\n\n\n\tThree/cd ./.\n')).toBe('One. Two;\n\nThree.');
  });

  it('loads 500 Brown samples in 15 genres and 233 addresses with no tags left', () => {
    const brown = loadBrown();
    expect(brown).toHaveLength(500);
    expect(new Set(brown.map((d) => d.id.split('/')[1])).size).toBe(15);
    const sotu = loadSotu();
    expect(sotu).toHaveLength(233);
    expect(sotu[0].id).toBe('sotu/1790-george-washington');
    const tagged = brown.filter((d) => /\w\/(?:at|nn|nns|vbd|jj|in|cc)\b/.test(d.text));
    expect(tagged.map((d) => d.id)).toEqual([]);
    expect(bytesOf(brown)).toBeGreaterThan(5_000_000);
    expect(bytesOf(sotu)).toBeGreaterThan(10_000_000);
  });
});

describe('law corpus (SPDX licence texts)', () => {
  it('keys licence names by their first component, so versions and -only/-or-later/-with variants share a family', () => {
    for (const id of ['GPL-2.0', 'GPL-2.0+', 'GPL-2.0-only', 'GPL-2.0-or-later', 'GPL-3.0-with-GCC-exception']) expect(licenseNameKey(id)).toBe('gpl');
    expect(licenseNameKey('CC-BY-SA-4.0')).toBe('cc');
    expect(licenseNameKey('0BSD')).toBe('0bsd');
  });

  it('puts near-identical licences with different names (CPL/EPL, OpenSSL/SSLeay, GPL/AGPL 3.0) in one family', () => {
    const law = loadLawCorpus();
    const fam = new Map(law.map((d) => [d.id, d.group]));
    expect(law).toHaveLength(727);
    expect(fam.get('spdx/CPL-1.0')).toBe(fam.get('spdx/EPL-1.0'));
    expect(fam.get('spdx/OpenSSL')).toBe(fam.get('spdx/SSLeay-standalone'));
    expect(fam.get('spdx/AGPL-3.0-only')).toBe(fam.get('spdx/GPL-3.0-or-later'));
    expect(fam.get('spdx/GPL-2.0-only')).toBe(fam.get('spdx/GPL-2.0-with-bison-exception'));
    expect(fam.get('spdx/MIT')).not.toBe(fam.get('spdx/Apache-2.0'));
    const families = new Set(fam.values());
    expect(families.size).toBeGreaterThan(300);
    expect(families.size).toBeLessThan(400);
  });
});

describe('code corpus (effect sources)', () => {
  it('removes licence and copyright comments and keeps the code', () => {
    const src = '/**\n * @since 2.0.0\n */\nimport x from "y"\n\n/*\n * Copyright 2014 A. Person, released under the MIT license.\n */\nexport const a = 1\n// forked from z\n// MIT License\nconst b = 2 // keep\n';
    expect(stripLicenceHeaders(src)).toBe('/**\n * @since 2.0.0\n */\nimport x from "y"\n\nexport const a = 1\nconst b = 2 // keep\n');
  });

  it('loads one document per effect/src file with no licence header left', () => {
    const code = loadCodeCorpus();
    expect(code.length).toBeGreaterThan(300);
    expect(new Set(code.map((d) => d.id)).size).toBe(code.length);
    expect(code.every((d) => d.id.startsWith('effect/src/') && d.id.endsWith('.ts'))).toBe(true);
    expect(code.filter((d) => /copyright|licensed under/i.test(d.text)).map((d) => d.id)).toEqual([]);
    expect(code.find((d) => d.id === 'effect/src/Utils.ts')!.text).toContain('export const GenKindTypeId');
    expect(bytesOf(code)).toBeGreaterThan(6_000_000);
  });
});

describe('math corpus (stdlib READMEs)', () => {
  it('turns equation comments into $$ LaTeX $$ and drops comments, HTML, badges, C APIs and link sections', () => {
    const md = [
      '<!--\n\n@license Apache-2.0\n\nLicensed under the Apache License\n\n-->',
      '# Gamma',
      '[![NPM version][npm-image]][npm-url]',
      '<section class="intro">',
      'The [gamma function][gamma-function] extends the factorial, if `n &lt; 0` fails.',
      '<!-- <equation class="equation" label="eq:g" align="center" raw="\\Gamma ( n ) = (n-1)! &amp; x" alt="Gamma."> -->',
      '<div class="equation" align="center"><img src="x.svg"><br></div> -->',
      '<!-- </equation> -->',
      '</section>',
      '```javascript\nvar v = x[ 0 ][ 1 ];\n// returns <span>\n```',
      '<section class="c">\n## C APIs\n<section class="intro">\n</section>\n```c\ndouble f();\n```\n</section>',
      '<section class="links">\n[gamma-function]: https://en.wikipedia.org/wiki/Gamma_function\n</section>',
      'tail',
    ].join('\n\n');
    expect(cleanStdlibReadme(md)).toBe(
      '# Gamma\n\nThe gamma function extends the factorial, if `n < 0` fails.\n\n$$\\Gamma ( n ) = (n-1)! & x$$\n\n```javascript\nvar v = x[ 0 ][ 1 ];\n// returns <span>\n```\n\ntail',
    );
  });

  it('loads the @stdlib/math and @stdlib/stats READMEs with over a thousand equations and no markup', () => {
    const docs = loadStdlibReadmes();
    expect(docs.length).toBeGreaterThan(1500);
    const equations = docs.reduce((a, d) => a + (d.text.match(/^\$\$.+\$\$$/gm)?.length ?? 0), 0);
    expect(equations).toBeGreaterThan(1000);
    const dirty = docs.filter((d) => /<!--|-->|<section|<div|<img|Licensed under the Apache/.test(d.text));
    expect(dirty.map((d) => d.id)).toEqual([]);
    const gamma = docs.find((d) => d.id === 'stdlib/math/base/special/gamma')!;
    expect(gamma.text).toContain('$$\\Gamma ( n ) = (n-1)!$$');
    expect(gamma.text).not.toContain('stdlib_base_gamma'); // the C API section is gone
  });
});

describe('held-out corpus (Moby-Dick)', () => {
  it('has the 135 chapters, etymology, extracts and epilogue', () => {
    const ood = loadOodCorpus();
    expect(ood).toHaveLength(138);
    expect(ood.find((d) => d.id === 'moby-dick/chapter_001')!.text).toMatch(/^CHAPTER 1\. Loomings\.\n\nCall me Ishmael\./);
  });
});

describe('determinism', () => {
  it('gives byte-identical documents, ids and groups on a second load from the sources', () => {
    const loaders: Array<() => Doc[]> = [loadBrown, loadSotu, loadLawCorpus, loadCodeCorpus, loadStdlibReadmes, loadOodCorpus];
    for (const load of loaders) expect(digest(load())).toBe(digest(load()));
  });

  it('returns the same frozen array from the per-process cache', () => {
    const a = domainCorpus('law');
    expect(domainCorpus('law')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });
});
