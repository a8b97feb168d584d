/** Helpers shared by the built-in task tests: a job context, document collection, oracle models. */
import { fakeLanguageModel, silentLogger, type LanguageModel, type PluginContext, type TaskPlugin } from '@bam/eval';
import type { MultipleChoiceDoc } from '../../src/index.ts';

/** A job context with the given job seed. */
export function ctx(seed = 0): PluginContext {
  return { artifactsDir: '/nonexistent/bam-task-tests', seed, logger: silentLogger };
}

/** The documents of `task` for raw `options` (parsed with the task's schema, so defaults apply). */
export async function docsOf<D>(task: TaskPlugin<any, D>, options: unknown = {}, seed = 0): Promise<D[]> {
  const out: D[] = [];
  for await (const d of (await task.documents(task.options.parse(options), ctx(seed))) as AsyncIterable<D>) out.push(d);
  return out;
}

/**
 * A model that knows the answers of `docs`: loglikelihood 0 for a gold (context, choice) pair and
 * −100 for any other (`prefer: 'gold'`), or the reverse (`prefer: 'wrong'`).
 */
export function oracleModel(docs: readonly MultipleChoiceDoc[], prefer: 'gold' | 'wrong'): LanguageModel {
  const gold = new Set(docs.map((d) => `${d.context}\u0000${d.choices[d.gold]}`));
  const base = fakeLanguageModel({ name: `oracle-${prefer}` });
  return {
    ...base,
    async loglikelihood(reqs) {
      return reqs.map((r) => {
        const isGold = gold.has(`${r.context}\u0000${r.continuation}`);
        return { logprob: isGold === (prefer === 'gold') ? 0 : -100, tokens: 1, isGreedy: false };
      });
    },
  };
}

/** A model whose every character (one token each) has log-probability −ln 4, so token perplexity is exactly 4. */
export function uniform4Model(): LanguageModel {
  const base = fakeLanguageModel({ name: 'uniform-4' });
  const lp = (s: string): number => -[...s].length * Math.log(4);
  return {
    ...base,
    async loglikelihood(reqs) {
      return reqs.map((r) => ({ logprob: lp(r.continuation), tokens: [...r.continuation].length, isGreedy: false }));
    },
    async loglikelihoodRolling(reqs) {
      return reqs.map((r) => ({ logprob: lp(r.text), tokens: [...r.text].length }));
    },
  };
}
