/**
 * One training measurement in a fresh process, printed as one JSON line: `train()` tokens/s and
 * tokens per CPU-second of a preset variant, after a 2-step warm-up. benchmarks/compare-trees.ts
 * runs it in two checkouts (copying it into the other one), so it uses only @bam/core and
 * @bam/upcycle APIs that older commits have too (mixtures come from upcycle's `recipeConfig`).
 *
 *   npx tsx benchmarks/lib/train-once.ts <preset> <variant> <steps> <batchSize>
 */
import {
  createBatchSource,
  createModel,
  createTokenizer,
  disposeModel,
  loadPreset,
  parseModelConfig,
  selectBackend,
  tokenizerSpecFromName,
  train,
} from '@bam/core';
import { recipeConfig } from '@bam/upcycle';

const [preset = 'tiny', variant = 'dense', stepsArg = '10', batchArg = '8'] = process.argv.slice(2);
await selectBackend({ prefer: 'wasm', log: () => {} });
const base = { ...loadPreset(preset) } as Record<string, unknown>;
delete base.attention;
delete base.ffn;
const dense = parseModelConfig(base);
const config = variant === 'dense' ? dense : recipeConfig(variant, dense, 4);
const tokenizer = createTokenizer(config.vocabSize === 256 ? { kind: 'byte' } : tokenizerSpecFromName(`gpt2-${config.vocabSize}`));
const batches = createBatchSource({ tokenizer, mix: 'general', split: 'train', batchSize: Number(batchArg), seqLen: config.maxSeqLen, seed: 0 });
const lr = { peak: 1e-3, warmup: 1 };
const run = async (steps: number) => {
  const model = createModel(config, 0);
  try {
    const cpu0 = process.cpuUsage();
    const s = await train({ model, batches, steps, lr, logEvery: steps });
    const cpu = process.cpuUsage(cpu0);
    return { tps: s.tokensPerSecond, perCpu: (s.tokensSeen / (cpu.user + cpu.system)) * 1e6, finalLoss: s.finalLoss };
  } finally {
    disposeModel(model);
  }
};
await run(2);
console.log(JSON.stringify(await run(Number(stepsArg))));
