/**
 * `bam train`: trains a model from a preset on a domain or a mixture, with checkpoints and
 * resume (running the same command again with the same --out continues where it stopped).
 */
import { parseArgs } from 'node:util';
import {
  BamError,
  ConfigError,
  TrainingStoppedError,
  countParams,
  createBatchSource,
  createModel,
  createTokenizer,
  disposeModel,
  formatMix,
  loadCheckpoint,
  loadPreset,
  parseMixSpec,
  selectBackend,
  tokenizerSpecForCheckpoint,
  tokenizerSpecFromName,
  train,
  type BackendName,
  type TokenizerSpec,
} from '@bam/core';
import { configHash } from '@bam/utils';
import type { Command } from '../command.ts';
import { trainProgressBar } from '../progress-bar.ts';

const usage = `usage: bam train (--preset P | --init CKPT) (--domain D | --mix "SPEC") --out DIR [options]

Trains a model (AdamW, linear warm-up then cosine decay to 10% of the peak LR, gradient clipping)
and writes checkpoints to DIR/step-NNNNNNNN/ and a JSONL log to DIR/train.jsonl. Running the same
command again with the same --out resumes from the newest checkpoint and reproduces the
uninterrupted run exactly.

required:
  --preset P            model preset (smoke, tiny, small, paper-small, paper-large)
  --init CKPT           or continue pre-training this checkpoint (e.g. one from bam import): its
                        config, weights and tokenizer; --tokenizer does not apply
  --domain D            train on one domain: general, law, code, math (100% of the data)
  --mix "SPEC"          or a mixture, e.g. "90% law + 10% general"
  --out DIR             output directory (checkpoints, log)

options:
  --steps N             optimizer steps (default 200)
  --batch-size B        rows per batch (default 8)
  --seq-len T           tokens per row (default min(128, the preset's maxSeqLen))
  --lr X                peak learning rate (default 1e-3)
  --warmup W            warm-up steps (default 5% of --steps)
  --weight-decay X      AdamW decoupled weight decay (default 0.1)
  --clip-norm X         global gradient-norm clip, 0 = off (default 1.0)
  --seed S              model init and data seed (default 0)
  --tokenizer NAME      byte | gpt2-<vocab> (default: byte for a 256-token vocabulary, else
                        gpt2-<the preset's vocabSize>)
  --eval-every N        validation every N steps (default 0: at the start and the end)
  --eval-batches N      validation batches per evaluation (default 4)
  --checkpoint-every N  checkpoint every N steps (default 0: at the end only); with N > 0 the
                        start is saved too, so a run that diverges early keeps a healthy checkpoint
  --resume-from CKPT    continue from this checkpoint instead of the newest in --out (e.g. the last
                        healthy one a stopped run names, with a lower --lr); newer checkpoints in
                        --out are moved aside (renamed *.diverged-<time>), not deleted
  --diverge-loss-ratio X  stop when a step's loss exceeds X × its running average (default 3; 0 = off)
  --diverge-grad-ratio X  stop when the gradient norm exceeds X × its running average (default 10; 0 = off)
  --log-every N         log line every N steps (default 10)
  --backend B           tensorflow | webgpu | wasm | cpu (default: best available)
  --json                print one final JSON line with the results`;

function intOpt(v: string | undefined, name: string, def: number, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError('bam train options', [{ path: `--${name}`, message: `must be an integer >= ${min}, got '${v}'` }]);
  return n;
}

function numOpt(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError('bam train options', [{ path: `--${name}`, message: `must be a number >= 0, got '${v}'` }]);
  return n;
}

export const command: Command = {
  name: 'train',
  summary: 'train a model from a preset, or continue pre-training a checkpoint (--init), on a domain or a mixture (checkpoints, resume)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        preset: { type: 'string' },
        init: { type: 'string' },
        domain: { type: 'string' },
        mix: { type: 'string' },
        out: { type: 'string' },
        steps: { type: 'string' },
        'batch-size': { type: 'string' },
        'seq-len': { type: 'string' },
        lr: { type: 'string' },
        warmup: { type: 'string' },
        'weight-decay': { type: 'string' },
        'clip-norm': { type: 'string' },
        seed: { type: 'string' },
        tokenizer: { type: 'string' },
        'eval-every': { type: 'string' },
        'eval-batches': { type: 'string' },
        'checkpoint-every': { type: 'string' },
        'log-every': { type: 'string' },
        'resume-from': { type: 'string' },
        'diverge-loss-ratio': { type: 'string' },
        'diverge-grad-ratio': { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    const issues: Array<{ path: string; message: string }> = [];
    if (!values.preset === !values.init) issues.push({ path: '--preset/--init', message: 'give exactly one of --preset P or --init CKPT' });
    if (values.init && values.tokenizer) issues.push({ path: '--tokenizer', message: 'does not apply with --init (the checkpoint carries its tokenizer)' });
    if (!values.out) issues.push({ path: '--out', message: 'is required' });
    if (!values.domain === !values.mix) issues.push({ path: '--domain/--mix', message: 'give exactly one of --domain D or --mix "SPEC"' });
    if (issues.length) throw new ConfigError('bam train options', issues, 'see bam train --help');

    const backend = await selectBackend({ prefer: values.backend as BackendName | undefined, log: values.json ? () => {} : undefined });
    // --init: the checkpoint's model (weights, config) and its tokenizer, e.g. an imported model.
    const init = values.init ? loadCheckpoint(values.init) : undefined;
    const config = init ? init.config : loadPreset(values.preset!);
    const source = values.init ?? values.preset!;
    const mix = parseMixSpec(values.domain ? { [values.domain]: 1 } : values.mix!);
    const steps = intOpt(values.steps, 'steps', 200, 1);
    const batchSize = intOpt(values['batch-size'], 'batch-size', 8, 1);
    const seqLen = intOpt(values['seq-len'], 'seq-len', Math.min(128, config.maxSeqLen), 1);
    if (seqLen > config.maxSeqLen) {
      throw new ConfigError('bam train options', [{ path: '--seq-len', message: `${seqLen} exceeds the model's maxSeqLen ${config.maxSeqLen}` }]);
    }
    const seed = intOpt(values.seed, 'seed', 0, 0);
    const tokSpec: TokenizerSpec = init
      ? tokenizerSpecForCheckpoint(values.init!, init.tokenizer.id)
      : values.tokenizer
      ? tokenizerSpecFromName(values.tokenizer)
      : config.vocabSize === 256
        ? { kind: 'byte' }
        : tokenizerSpecFromName(`gpt2-${config.vocabSize}`);
    const tokenizer = createTokenizer(tokSpec);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new ConfigError('bam train options', [{ path: '--tokenizer', message: `'${tokenizer.id}' has ${tokenizer.vocabSize} ids but '${source}' only ${config.vocabSize}` }]);
    }
    const batches = createBatchSource({ tokenizer, mix, split: 'train', batchSize, seqLen, seed });
    const evalBatches = createBatchSource({ tokenizer, mix, split: 'validation', batchSize, seqLen, seed: seed + 1 });
    const model = init ? init.model : createModel(config, seed);
    const peakLr = numOpt(values.lr, 'lr', 1e-3);
    try {
      const s = await train({
        model,
        batches,
        evalBatches,
        steps,
        lr: { peak: peakLr, warmup: intOpt(values.warmup, 'warmup', Math.round(0.05 * steps), 0) },
        weightDecay: numOpt(values['weight-decay'], 'weight-decay', 0.1),
        clipNorm: numOpt(values['clip-norm'], 'clip-norm', 1.0),
        seed,
        evalEvery: intOpt(values['eval-every'], 'eval-every', 0, 0),
        evalSteps: intOpt(values['eval-batches'], 'eval-batches', 4, 1),
        checkpointEvery: intOpt(values['checkpoint-every'], 'checkpoint-every', 0, 0),
        logEvery: intOpt(values['log-every'], 'log-every', 10, 1),
        outDir: values.out!,
        ...(values['resume-from'] ? { resumeFrom: values['resume-from'] } : {}),
        divergence: {
          ...(values['diverge-loss-ratio'] !== undefined ? { lossRatio: numOpt(values['diverge-loss-ratio'], 'diverge-loss-ratio', 0) } : {}),
          ...(values['diverge-grad-ratio'] !== undefined ? { gradNormRatio: numOpt(values['diverge-grad-ratio'], 'diverge-grad-ratio', 0) } : {}),
        },
        tokenizer,
        reporter: !values.json && process.stderr.isTTY ? trainProgressBar() : undefined,
        meta: { command: 'bam train', ...(init ? { init: { checkpoint: values.init, contentHash: init.manifest.contentHash } } : { preset: values.preset }), mix: formatMix(mix), backend: backend.name },
      });
      const params = countParams(model);
      const result = {
        initialTrainLoss: s.initialLoss,
        finalTrainLoss: s.finalLoss,
        initialValLoss: s.initialValLoss,
        finalValLoss: s.finalValLoss,
        tokensSeen: s.tokensSeen,
        tokensPerSecond: Math.round(s.tokensPerSecond),
        steps: s.steps,
        startStep: s.startStep,
        resumedFrom: s.resumedFrom ?? null,
        checkpoint: s.checkpoint ?? null,
        flopsSpent: s.flopsSpent,
        preset: values.preset ?? null,
        init: values.init ?? null,
        configHash: configHash(config),
        mix: formatMix(mix),
        tokenizer: tokenizer.id,
        batchSize,
        seqLen,
        seed,
        params,
        backend: backend.name,
      };
      if (values.json) {
        console.log(JSON.stringify(result));
      } else {
        const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '-');
        console.log(
          [
            `trained ${source} (${params.total.toLocaleString('en')} params) on ${result.mix} for steps ${s.startStep}→${s.steps}${s.resumedFrom ? ` (resumed from ${s.resumedFrom})` : ''}`,
            `  train loss ${f(s.initialLoss)} → ${f(s.finalLoss)}    validation NLL ${f(s.initialValLoss)} → ${f(s.finalValLoss)}`,
            `  ${s.tokensSeen.toLocaleString('en')} tokens, ${result.tokensPerSecond.toLocaleString('en')} tokens/s on ${backend.name}`,
            `  checkpoint: ${s.checkpoint}`,
          ].join('\n'),
        );
      }
      return 0;
    } catch (err) {
      throw err instanceof TrainingStoppedError ? withContinueCommand(err, argv, peakLr) : err;
    } finally {
      disposeModel(model);
    }
  },
};

/** Quotes one argument for a POSIX shell when it needs it. */
function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/**
 * The stop error with a command that continues the run: the same command line with
 * `--resume-from` the last healthy checkpoint and a 10× lower `--lr`.
 */
function withContinueCommand(err: TrainingStoppedError, argv: readonly string[], peakLr: number): BamError {
  const healthy = err.record.healthyCheckpoint;
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--lr' || a === '--resume-from') i++;
    else if (!a.startsWith('--lr=') && !a.startsWith('--resume-from=')) kept.push(a);
  }
  const lower = Number((peakLr / 10).toPrecision(3));
  const command = ['bam', 'train', ...kept, ...(healthy ? ['--resume-from', healthy] : []), '--lr', String(lower)].map(shellQuote).join(' ');
  const message = err.message.split('\n')[0];
  return new BamError(message, err.code, healthy ? `continue from the healthy checkpoint at a 10× lower learning rate:\n    ${command}` : `start again at a 10× lower learning rate:\n    ${command}`);
}
