import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateScores, evaluateTask, fakeLanguageModel, runSweepFile, silentLogger, type TaskPlugin } from '../src/index.ts';
import { EVAL_ROOT, FAKE_PLUGINS, REPO_ROOT, readCsv, tmp, writeJson } from './helpers.ts';

/** The ```ts block that follows the README's example marker. */
function readmeExample(): string {
  const readme = readFileSync(join(EVAL_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- example: examples/arith-choice.ts');
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error('README has no example block');
  return m[1];
}

/** The `bam` command as a user runs it, in `cwd`. */
function bam(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'packages', 'cli', 'bin', 'bam.mjs'), ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A variant file a user writes beside the task: it imports @bam/eval, zod and @bam/core, and says whether its zod is bam's. */
const USER_VARIANT = `import { z } from 'zod';
import { SweepConfigSchema, defineVariant, fakeLanguageModel } from '@bam/eval';
import { BACKEND_NAMES } from '@bam/core';

export default defineVariant({
  id: 'my-fake',
  description: 'the fake model, from a user folder',
  options: z.object({}).strict(),
  create: () => fakeLanguageModel({ backend: \`zod-shared=\${SweepConfigSchema instanceof z.ZodObject} core-backends=\${BACKEND_NAMES.includes('wasm')}\` }),
});
`;

/** The README task evaluated in this thread on the fake model: results.csv's rows must carry the same numbers. */
async function checkAgainstInThread(rows: Record<string, string>[], dir: string): Promise<void> {
  const task = (await import(join(EVAL_ROOT, 'examples', 'arith-choice.ts'))).default as TaskPlugin;
  const docs = await evaluateTask(task, { n: 12 }, fakeLanguageModel(), { artifactsDir: dir, seed: 3, logger: silentLogger });
  const agg = aggregateScores(task.metrics, docs, { seed: 3, bootstrapIters: 1000 });
  expect(rows.map((r) => Number(r.value))).toEqual([agg.acc.value, agg.acc_norm.value]);
  expect(rows.map((r) => Number(r.stderr))).toEqual([agg.acc.stderr, agg.acc_norm.stderr]);
  // the fake scores " 12" by its characters: the answer with the largest Σ logprob wins; check one document by hand
  const first = [...(task.documents({ n: 1, max: 20 }, { artifactsDir: dir, seed: 3, logger: silentLogger }) as Iterable<{ choices: string[]; gold: number }>)][0];
  const charLp = (s: string): number => [...s].reduce((t, c) => t - (1 + ((c.codePointAt(0) ?? 0) % 10)) / 10, 0);
  const lls = first.choices.map(charLp);
  expect(docs[0].acc).toBe(lls.indexOf(Math.max(...lls)) === first.gold ? 1 : 0);
}

const quiet = { progress: false, print: false, quiet: true } as const;

describe('custom plugins from outside the packages', () => {
  it('keeps the README example under 40 lines and identical to examples/arith-choice.ts', () => {
    const example = readmeExample();
    expect(example).toBe(readFileSync(join(EVAL_ROOT, 'examples', 'arith-choice.ts'), 'utf8'));
    expect(example.trimEnd().split('\n').length).toBeLessThan(40);
  });

  it('runs the README example task and a variant from a bare folder outside the repo with bam sweep, nothing installed or linked there', async () => {
    // What the README says: the file anywhere, a package.json with "type": "module" beside it, named in "plugins".
    const dir = tmp('bam-user-');
    expect(dir.startsWith(REPO_ROOT)).toBe(false);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'my-evals', private: true, type: 'module' }));
    writeFileSync(join(dir, 'my-task.ts'), readmeExample());
    writeFileSync(join(dir, 'my-variant.ts'), USER_VARIANT);
    writeJson(dir, 'sweep.json', {
      name: 'readme',
      seeds: [3],
      plugins: ['./my-task.ts', './my-variant.ts'],
      artifactsDir: './artifacts',
      variants: [{ id: 'my-fake' }],
      tasks: [{ id: 'arith-choice', options: { n: 12 } }],
      workers: 1,
    });
    const r = bam(dir, 'sweep', '--config', 'sweep.json', '--out', 'out', '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    const rows = readCsv(join(dir, 'out', 'results.csv'));
    expect(rows.map((x) => x.metric)).toEqual(['acc', 'acc_norm']);
    expect(rows[0]).toMatchObject({ task: 'arith-choice', n: '12', task_version: '1', status: 'ok', seed: '3' });
    // the worker's plugin files got bam's own zod (a schema of @bam/eval is an instance of their z.ZodObject) and @bam/core
    expect(rows[0].backend).toBe('zod-shared=true core-backends=true');

    // the same task (examples/arith-choice.ts is the README's text) evaluated in this thread with the same fake model gives the same numbers
    await checkAgainstInThread(rows, dir);
  });

  it('tells what to add when the README task sits in a folder without the package.json it asks for', () => {
    const dir = tmp('bam-user-cjs-');
    writeFileSync(join(dir, 'my-task.ts'), readmeExample());
    writeJson(dir, 'sweep.json', { name: 'cjs', seeds: [0], plugins: ['./my-task.ts'], variants: [{ id: 'dense' }], tasks: [{ id: 'arith-choice' }] });
    const r = bam(dir, 'sweep', '--config', 'sweep.json', '--out', 'out', '--quiet');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`plugin ${join(dir, 'my-task.ts')}: failed to import: Cannot find module 'zod'`);
    expect(r.stderr).toMatch(/hint: bam lends .*@bam\/eval.* to ES modules only: put a package.json with "type": "module" beside the file, or name it \.mts/);
  });

  it('runs a plain .mjs task object that imports nothing, from a bare folder', async () => {
    const dir = tmp('bam-bare-');
    writeFileSync(
      join(dir, 'count.mjs'),
      `export default {
  kind: 'task', id: 'plain-lp', version: 1, description: 'mean rolling logprob',
  metrics: { lp: { aggregation: 'mean', higherIsBetter: true } },
  documents: () => ['x', 'dd'],
  requests: (text) => [{ type: 'loglikelihood_rolling', text }],
  score: (text, [r]) => ({ lp: r.logprob }),
};\n`,
    );
    const config = writeJson(dir, 'sweep.json', { name: 'bare', seeds: [0], plugins: ['./count.mjs', FAKE_PLUGINS], artifactsDir: './a', variants: [{ id: 'fake' }], tasks: [{ id: 'plain-lp' }] });
    await runSweepFile(config, { outDir: join(dir, 'out'), workers: 1, ...quiet });
    const [row] = readCsv(join(dir, 'out', 'results.csv'));
    expect(Number(row.value)).toBeCloseTo(-0.15, 12); // 'x' −0.1, 'dd' −0.2
    expect(Number(row.stderr)).toBeCloseTo(0.05, 12); // std 0.0707 / √2
  });

  it('runs a .ts task in a folder without package.json (a CommonJS package) in the workers', async () => {
    const dir = tmp('bam-cjs-');
    writeFileSync(
      join(dir, 'cjs-task.ts'),
      `const words: string[] = ['né', 'x'];
export default {
  kind: 'task' as const, id: 'cjs-bpb', version: 1, description: 'bits per byte',
  metrics: { bpb: { aggregation: 'bits_per_byte' as const, higherIsBetter: false } },
  documents: () => words,
  requests: (text: string) => [{ type: 'loglikelihood_rolling' as const, text }],
  score: (text: string, [r]: Array<{ logprob: number }>) => ({ bpb: [r.logprob, Buffer.byteLength(text)] }),
};\n`,
    );
    const config = writeJson(dir, 'sweep.json', { name: 'cjs', seeds: [0], plugins: ['./cjs-task.ts', FAKE_PLUGINS], artifactsDir: './a', variants: [{ id: 'fake' }], tasks: [{ id: 'cjs-bpb' }] });
    await runSweepFile(config, { outDir: join(dir, 'out'), workers: 1, ...quiet });
    const [row] = readCsv(join(dir, 'out', 'results.csv'));
    expect(row.status).toBe('ok');
    expect(Number(row.value)).toBeCloseTo(0.6 / (4 * Math.LN2), 12); // −(−0.5 − 0.1) over 3 + 1 bytes
  });
});
