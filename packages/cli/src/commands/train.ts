/**
 * `bam train`: trains a model from a preset on a domain or a mixture, with checkpoints and
 * resume (running the same command again with the same --out continues where it stopped).
 */
import {
  BACKEND_NAMES,
  BamError,
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
  validateCheckpoint,
  type BackendName,
  type TokenizerSpec,
} from '@bam/core';
import { configHash, ensureWritableDir, UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';
import { trainProgressBar } from '../progress-bar.ts';

const spec = {
  command: 'bam train',
  options: {
    preset: { kind: 'string', arg: 'P', defaultText: 'none; give --preset or --init', help: 'model preset (smoke, tiny, small, paper-small, paper-large)' },
    init: {
      kind: 'string',
      arg: 'CKPT',
      defaultText: 'none; give --preset or --init',
      help: 'or continue pre-training this checkpoint (e.g. one from bam import): its\nconfig, weights and tokenizer; --tokenizer does not apply',
    },
    domain: { kind: 'string', arg: 'D', defaultText: 'none; give --domain or --mix', help: 'train on one domain: general, law, code, math (100% of the data)' },
    mix: { kind: 'string', arg: '"SPEC"', defaultText: 'none; give --domain or --mix', help: 'or a mixture, e.g. "90% law + 10% general"' },
    out: { kind: 'string', arg: 'DIR', required: true, help: 'output directory (checkpoints, log)' },
    steps: { kind: 'int', min: 1, default: 200, help: 'optimizer steps' },
    'batch-size': { kind: 'int', arg: 'B', min: 1, default: 8, help: 'rows per batch' },
    'seq-len': { kind: 'int', arg: 'T', min: 1, defaultText: "min(128, the model's maxSeqLen)", help: 'tokens per row' },
    lr: { kind: 'number', min: 0, default: 1e-3, help: 'peak learning rate' },
    warmup: { kind: 'int', arg: 'W', min: 0, defaultText: '5% of --steps', help: 'warm-up steps' },
    'weight-decay': { kind: 'number', min: 0, default: 0.1, help: 'AdamW decoupled weight decay' },
    'clip-norm': { kind: 'number', min: 0, default: 1.0, help: 'global gradient-norm clip, 0 = off' },
    seed: { kind: 'int', arg: 'S', min: 0, default: 0, help: 'model init and data seed' },
    tokenizer: { kind: 'string', arg: 'NAME', defaultText: "byte for a 256-token vocabulary, else gpt2-<the preset's vocabSize>", help: 'byte | gpt2-<vocab> (not with --init)' },
    'eval-every': { kind: 'int', min: 0, default: 0, help: 'validation every N steps (0: at the start and the end)' },
    'eval-batches': { kind: 'int', min: 1, default: 4, help: 'validation batches per evaluation' },
    'checkpoint-every': {
      kind: 'int',
      min: 0,
      default: 0,
      help: 'checkpoint every N steps (0: at the end only); with N > 0 the start is saved too,\nso a run that diverges early keeps a healthy checkpoint',
    },
    'resume-from': {
      kind: 'string',
      arg: 'CKPT',
      defaultText: 'the newest checkpoint in --out',
      help: 'continue from this checkpoint (e.g. the last healthy one a stopped run names, with a\nlower --lr); newer checkpoints in --out are moved aside (renamed *.diverged-<time>), not deleted',
    },
    'diverge-loss-ratio': { kind: 'number', min: 0, defaultText: "3; 0 = off", help: "stop when a step's loss exceeds X × its running average" },
    'diverge-grad-ratio': { kind: 'number', min: 0, defaultText: '10; 0 = off', help: 'stop when the gradient norm exceeds X × its running average' },
    'log-every': { kind: 'int', min: 1, default: 10, help: 'log line every N steps' },
    backend: { kind: 'string', arg: 'B', choices: BACKEND_NAMES, defaultText: 'best available', help: BACKEND_NAMES.join(' | ') },
    json: { kind: 'flag', help: 'print one final JSON line with the results' },
  },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'train',
  summary: 'train a model from a preset, or continue pre-training a checkpoint (--init), on a domain or a mixture (checkpoints, resume)',
  spec,
  usage: {
    usage: 'bam train (--preset P | --init CKPT) (--domain D | --mix "SPEC") --out DIR [options]',
    description: `Trains a model (AdamW, linear warm-up then cosine decay to 10% of the peak LR, gradient clipping)
and writes checkpoints to DIR/step-NNNNNNNN/ and a JSONL log to DIR/train.jsonl. Running the same
command again with the same --out resumes from the newest checkpoint and reproduces the
uninterrupted run exactly. Give exactly one of --preset and --init, and one of --domain and --mix.`,
  },
  async run({ values, argv }) {
    if (!values.preset === !values.init) throw new UsageError(spec.command, '--preset/--init: give exactly one of --preset P or --init CKPT');
    if (values.init && values.tokenizer) throw new UsageError(spec.command, '--tokenizer does not apply with --init (the checkpoint carries its tokenizer)');
    if (!values.domain === !values.mix) throw new UsageError(spec.command, '--domain/--mix: give exactly one of --domain D or --mix "SPEC"');
    const mix = parseMixSpec(values.domain ? { [values.domain]: 1 } : values.mix!);
    // --init: the checkpoint's config and tokenizer (e.g. an imported model), checked as loading
    // would check them before TF.js starts; its weights become the model below.
    let init = values.init ? validateCheckpoint(values.init) : undefined;
    const config = init ? init.config : loadPreset(values.preset!);
    const source = values.init ?? values.preset!;
    const steps = values.steps;
    const batchSize = values['batch-size'];
    const seqLen = values['seq-len'] ?? Math.min(128, config.maxSeqLen);
    if (seqLen > config.maxSeqLen) throw new UsageError(spec.command, `--seq-len ${seqLen} exceeds the model's maxSeqLen ${config.maxSeqLen}`);
    const seed = values.seed;
    const peakLr = values.lr;
    const tokSpec: TokenizerSpec = init
      ? tokenizerSpecForCheckpoint(values.init!, init.manifest.tokenizer.id)
      : values.tokenizer
      ? tokenizerSpecFromName(values.tokenizer)
      : config.vocabSize === 256
        ? { kind: 'byte' }
        : tokenizerSpecFromName(`gpt2-${config.vocabSize}`);
    const tokenizer = createTokenizer(tokSpec);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new UsageError(spec.command, `--tokenizer '${tokenizer.id}' has ${tokenizer.vocabSize} ids but '${source}' only ${config.vocabSize}`);
    }
    // Everything the command line decides is checked; now the output folder, before TF.js starts.
    ensureWritableDir(values.out, '--out');
    const backend = await selectBackend({ prefer: values.backend as BackendName | undefined, log: values.json ? () => {} : undefined });
    const batches = createBatchSource({ tokenizer, mix, split: 'train', batchSize, seqLen, seed });
    const evalBatches = createBatchSource({ tokenizer, mix, split: 'validation', batchSize, seqLen, seed: seed + 1 });
    const initHash = init?.manifest.contentHash;
    const model = init ? loadCheckpoint(init).model : createModel(config, seed);
    // The model holds the weights now; dropping the file's copy keeps a large --init model from being held twice while training.
    init = undefined;
    try {
      const s = await train({
        model,
        batches,
        evalBatches,
        steps,
        lr: { peak: peakLr, warmup: values.warmup ?? Math.round(0.05 * steps) },
        weightDecay: values['weight-decay'],
        clipNorm: values['clip-norm'],
        seed,
        evalEvery: values['eval-every'],
        evalSteps: values['eval-batches'],
        checkpointEvery: values['checkpoint-every'],
        logEvery: values['log-every'],
        outDir: values.out,
        ...(values['resume-from'] ? { resumeFrom: values['resume-from'] } : {}),
        divergence: {
          ...(values['diverge-loss-ratio'] !== undefined ? { lossRatio: values['diverge-loss-ratio'] } : {}),
          ...(values['diverge-grad-ratio'] !== undefined ? { gradNormRatio: values['diverge-grad-ratio'] } : {}),
        },
        tokenizer,
        reporter: !values.json && process.stderr.isTTY ? trainProgressBar() : undefined,
        meta: { command: 'bam train', ...(values.init ? { init: { checkpoint: values.init, contentHash: initHash } } : { preset: values.preset }), mix: formatMix(mix), backend: backend.name },
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
});

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
