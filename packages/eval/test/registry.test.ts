import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PluginError, PluginRegistry, UnknownPluginError, defineTask, defineVariant, resolvePluginSpec } from '../src/index.ts';
import { fakeMc, fakePpl, fakeVariant } from './fixtures/fake-plugins.ts';
import { FAKE_PLUGINS, FIXTURES, tmp } from './helpers.ts';

async function loadError(spec: string): Promise<PluginError> {
  const err = await new PluginRegistry().load(spec, FIXTURES).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PluginError);
  return err as PluginError;
}

describe('registry', () => {
  it('fails on an unknown id with the known ids and the nearest match', () => {
    const r = new PluginRegistry();
    r.register(fakeMc);
    r.register(fakePpl);
    r.register(fakeVariant);
    const err = (() => {
      try {
        r.task('fake-mcc');
      } catch (e) {
        return e as UnknownPluginError;
      }
    })();
    expect(err).toBeInstanceOf(UnknownPluginError);
    expect(err?.known).toEqual(['fake-mc', 'fake-ppl']);
    expect(err?.nearest).toBe('fake-mc');
    expect(err?.message).toContain("unknown task 'fake-mcc'; known tasks: fake-mc, fake-ppl; did you mean 'fake-mc'?");
    expect(() => r.variant('fak')).toThrow("did you mean 'fake'?");
    expect(r.task('fake-ppl')).toBe(r.task('fake-ppl'));
  });

  it('loads every plugin a module exports, by path relative to a base folder', async () => {
    const r = new PluginRegistry();
    const mod = await r.load('./fake-plugins.ts', FIXTURES);
    expect(mod.path).toBe(FAKE_PLUGINS);
    expect(mod.tasks).toEqual(['fake-mc', 'fake-ppl']);
    expect(mod.variants).toEqual(['fake', 'fake-budget']);
    expect(r.taskIds()).toEqual(['fake-mc', 'fake-ppl']);
    await r.load(FAKE_PLUGINS); // the same module again is a no-op
    expect(r.loadedModules()).toHaveLength(1);
  });

  it('names the file and the field of a malformed plugin', async () => {
    const missing = await loadError('./bad/missing-score.ts');
    expect(missing.file).toContain('missing-score.ts');
    expect(missing.field).toBe('score');
    expect(missing.message).toMatch(/missing-score\.ts 'no-score' \(field 'score'\): must be a function \(got missing\)/);

    const agg = await loadError('./bad/bad-aggregation.ts');
    expect(agg.field).toBe('metrics.acc.aggregation');
    expect(agg.message).toContain('must be one of mean, median, perplexity, bits_per_byte');

    const kind = await loadError('./bad/not-a-plugin.ts');
    expect(kind.field).toBe('default');
    expect(kind.file).toContain('not-a-plugin.ts');

    const none = await loadError('./bad/no-exports.ts');
    expect(none.message).toContain('exports no plugin');

    const thrown = await loadError('./bad/define-throws.ts');
    expect(thrown.file).toContain('define-throws.ts');
    expect(thrown.field).toBe('version');
  });

  it('refuses a second plugin with a taken id and a missing file', async () => {
    const r = new PluginRegistry();
    await r.load(FAKE_PLUGINS);
    const err = await r.load('./other-fake.ts', FIXTURES).catch((e: unknown) => e as PluginError);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).message).toContain(`task id 'fake-mc' is already registered by ${FAKE_PLUGINS}`);
    expect(() => resolvePluginSpec('./nope.ts', FIXTURES)).toThrow(/file not found: .*nope\.ts/);
    expect(() => resolvePluginSpec('bam-no-such-package', FIXTURES)).toThrow(/cannot find package 'bam-no-such-package'/);
  });

  it('checks defineTask and defineVariant fields at definition time', () => {
    const base = {
      id: 't',
      version: 1,
      description: '',
      metrics: { acc: { aggregation: 'mean' as const, higherIsBetter: true } },
      documents: () => [1],
      requests: () => [],
      score: () => ({ acc: 1 }),
    };
    expect(defineTask(base).options.parse({})).toEqual({}); // no options = empty strict object
    expect(() => defineTask({ ...base, metrics: {} })).toThrow(/field 'metrics'/);
    expect(() => defineTask({ ...base, id: 'has space' })).toThrow(/field 'id'/);
    expect(() => defineTask({ ...base, options: { parse: 1 } as never })).toThrow(/field 'options'.*zod schema/);
    expect(() => defineVariant({ id: 'v', description: '', create: 3 as never })).toThrow(/field 'create'/);
    expect(() => defineVariant({ id: 'v', description: '', usesBudget: 'yes' as never, create: () => ({}) as never })).toThrow(/field 'usesBudget'/);
    expect(defineVariant({ id: 'v', description: '', options: z.object({ k: z.number().default(2) }).strict(), create: () => ({}) as never }).options.parse({})).toEqual({ k: 2 });
  });

  it('loads a plugin package by name from the config folder, and a builtinPlugins list of specs and objects', async () => {
    const dir = tmp();
    const pkg = join(dir, 'node_modules', 'bam-plugin-hello');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'bam-plugin-hello', type: 'module', exports: './index.mjs' }));
    const task = (id: string): string =>
      `{ kind: 'task', id: '${id}', version: 1, description: '', metrics: { n: { aggregation: 'mean', higherIsBetter: true } }, documents: () => [1], requests: () => [{ type: 'loglikelihood_rolling', text: 'x' }], score: () => ({ n: 1 }) }`;
    writeFileSync(join(pkg, 'extra.mjs'), `export default ${task('hello-extra')};\n`);
    writeFileSync(join(pkg, 'index.mjs'), `export const builtinPlugins = ['./extra.mjs', ${task('hello-inline')}];\n`);
    const r = new PluginRegistry();
    const mod = await r.load('bam-plugin-hello', dir);
    expect(mod.path).toBe(join(pkg, 'index.mjs'));
    expect(r.taskIds()).toEqual(['hello-extra', 'hello-inline']);
    expect(r.sourceOf('task', 'hello-extra')).toBe(join(pkg, 'extra.mjs'));
  });
});
