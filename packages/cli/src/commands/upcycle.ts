/**
 * `bam upcycle`: the whole upcycling pipeline of a preset (seed → branch → experts → mix →
 * train-mixture), content-addressed under --out, with progress per stage on stderr and a final
 * table of checkpoints on stdout. The stage commands (`bam seed`, `bam branch`, `bam experts`,
 * `bam mix`, `bam train-mixture`) run the same pipeline up to their stage (reusing what exists),
 * and are made by `stageCommand` below.
 */
import { BACKEND_NAMES, selectBackend, type BackendName } from '@bam/core';
import { ensureWritableDir, UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import {
  BUDGETS,
  checkpointRows,
  formatCheckpointTable,
  loadUpcyclePreset,
  parseDataFiles,
  parseGivenExperts,
  upcycle,
  upcyclePresetNames,
  type Budget,
  type PipelineStage,
  type UpcycleResult,
} from '@bam/upcycle';
import { defineCommand, type Command } from '../command.ts';

/** The command line every pipeline command shares. */
const OPTIONS = {
  preset: { kind: 'string', arg: 'P', required: true, help: `upcycle preset: ${upcyclePresetNames().join(', ')}, or a preset JSON file` },
  out: { kind: 'string', arg: 'DIR', required: true, help: 'artifacts directory (<DIR>/<stage>/<hash>/); reused and resumed across runs' },
  workers: { kind: 'int', min: 1, defaultText: 'one per core; 1 = inline', help: 'worker threads for the parallel stages' },
  recipes: { kind: 'string', arg: 'a,b', defaultText: "the preset's", help: 'recipe names from the preset, or recipe ids' },
  budgets: { kind: 'string', arg: 'a,b', defaultText: "the preset's", help: BUDGETS.join(', ') },
  seed: {
    kind: 'string',
    arg: 'S',
    defaultText: "the preset's",
    help: 'override the seed (new seed model, experts and mixtures), a whole number >= 0;\nwith --expert, the seed checkpoint DIR (the general expert)',
  },
  expert: {
    kind: 'string',
    arg: 'D=DIR',
    multiple: true,
    defaultText: 'none',
    help: '(bam upcycle) a dense expert trained elsewhere for domain D (code, law, math);\nthen --seed DIR is the seed checkpoint: the seed and expert stages are skipped,\nand the config and tokenizer are the seed\'s',
  },
  data: {
    kind: 'string',
    arg: 'D=FILE',
    multiple: true,
    defaultText: "bam's corpus",
    help: '(bam upcycle) train the mixtures on your own text for domain D (general, code,\nlaw, math): plain text, or JSONL ({"text": ...} per line) for .jsonl files;\nvalidation stays on bam\'s',
  },
  'mixture-seed': { kind: 'int', arg: 'S', min: 0, defaultText: "the preset's", help: 'seed only the mixture phase (router init, data order): reuses the experts' },
  'resume-lr-scale': {
    kind: 'number',
    min: 0,
    defaultText: 'off',
    help: 'a stage that stopped on divergence continues from its last healthy checkpoint\nat X × its learning rate (0 < X < 1, e.g. 0.1)',
  },
  backend: { kind: 'string', arg: 'B', choices: BACKEND_NAMES, defaultText: 'best available', help: BACKEND_NAMES.join(' | ') },
  verify: {
    kind: 'flag',
    help: 'hash every file of each reused artifact against its DONE.json (default: sizes,\nand hashes of files changed since; env BAM_STORE_VERIFY=1 does the same)',
  },
  quiet: { kind: 'flag', help: 'no progress lines on stderr' },
  json: { kind: 'flag', help: 'print one JSON object (the checkpoints) instead of the table' },
} as const satisfies Record<string, OptionSpec>;

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The part of the result a stage command prints. */
function stageSummary(r: UpcycleResult, stage: PipelineStage): Array<{ name: string; checkpoint: string; reused: boolean }> {
  switch (stage) {
    case 'seed':
      return [{ name: 'seed', checkpoint: r.seed.checkpoint, reused: r.seed.reused }];
    case 'branch':
      return Object.entries(r.branches).map(([d, b]) => ({ name: `branch ${d}`, checkpoint: b!.checkpoint, reused: b!.reused }));
    case 'experts':
      return r.dense.map((d) => ({ name: d.role === 'seed' ? 'seed (general expert)' : `expert ${d.domain}`, checkpoint: d.checkpoint, reused: d.reused }));
    case 'mix':
      return Object.entries(r.mixes).map(([n, m]) => ({ name: `mix ${n}`, checkpoint: m.checkpoint, reused: m.reused }));
    case 'train-mixture':
      return r.mixtures.map((m) => ({ name: `${m.recipe} (${m.budget})`, checkpoint: m.checkpoint, reused: m.reused }));
  }
}

/** Makes the command that runs the pipeline up to `stage` (the whole pipeline for `upcycle`). */
export function stageCommand(name: string, stage: PipelineStage, summary: string, usageHead: string): Command {
  const spec = { command: `bam ${name}`, options: OPTIONS } satisfies CommandLineSpec<typeof OPTIONS>;
  return defineCommand({
    name,
    summary,
    spec,
    usage: { usage: `bam ${name} --preset P --out DIR [options]`, description: usageHead },
    async run({ values }) {
      const scale = values['resume-lr-scale'];
      if (scale !== undefined && !(scale > 0 && scale < 1)) throw new UsageError(spec.command, `--resume-lr-scale must be a number between 0 and 1 (exclusive), got '${scale}'`);
      const budgets = list(values.budgets);
      for (const b of budgets ?? []) {
        if (!(BUDGETS as readonly string[]).includes(b)) throw new UsageError(spec.command, `--budgets: unknown budget '${b}' (use ${BUDGETS.join(', ')})`);
      }
      const byo = values.expert.length > 0;
      if (byo && stage !== 'train-mixture') throw new UsageError(spec.command, `--expert is for bam upcycle, not bam ${name}`);
      if (values.data.length > 0 && stage !== 'train-mixture') throw new UsageError(spec.command, `--data is for bam upcycle, not bam ${name}`);
      if (byo && values.seed === undefined) throw new UsageError(spec.command, '--seed is required with --expert: the seed checkpoint directory (the general expert)');
      // Without --expert, --seed is the preset's seed override, a whole number as parseCommandLine's int options take.
      if (!byo && values.seed !== undefined && !/^\+?\d+$/.test(values.seed)) throw new UsageError(spec.command, `--seed must be a whole number >= 0 written in digits, got '${values.seed}'`);
      // Parse the preset before anything slow, so a bad one fails first.
      const preset = loadUpcyclePreset(values.preset);
      ensureWritableDir(values.out, '--out');
      // Through the environment, so the stages' worker threads verify too.
      if (values.verify) process.env.BAM_STORE_VERIFY = '1';
      const quiet = values.quiet || values.json;
      await selectBackend({ prefer: values.backend as BackendName | undefined, log: quiet ? () => {} : undefined });
      const t0 = performance.now();
      const log = quiet ? () => {} : (line: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
      const r = await upcycle(preset, {
        artifactsDir: values.out,
        workers: values.workers,
        recipes: list(values.recipes),
        budgets: budgets as Budget[] | undefined,
        ...(values.data.length > 0 ? { data: parseDataFiles(values.data) } : {}),
        ...(byo ? { given: { seed: values.seed!, experts: parseGivenExperts(values.expert) } } : { seed: values.seed === undefined ? undefined : Number(values.seed) }),
        mixtureSeed: values['mixture-seed'],
        ...(scale !== undefined ? { resumeLrScale: scale } : {}),
        until: stage,
        log,
      });
      if (values.json) {
        const out = {
          preset: r.preset.name,
          artifactsDir: r.artifactsDir,
          elapsedS: r.elapsedS,
          stage,
          checkpoints: stageSummary(r, stage),
          ...(stage === 'train-mixture' ? { rows: checkpointRows(r), mixtures: r.mixtures, dense: r.dense } : {}),
          ...(stage === 'experts' || stage === 'mix' ? { dense: r.dense } : {}),
        };
        console.log(JSON.stringify(out));
      } else if (stage === 'train-mixture') {
        console.log(formatCheckpointTable(r));
        console.log(`\n${r.artifacts.filter((a) => a.reused).length}/${r.artifacts.length} artifacts reused; ${r.elapsedS}s; artifacts in ${r.artifactsDir}`);
      } else {
        for (const s of stageSummary(r, stage)) console.log(`${s.name.padEnd(24)} ${s.reused ? 'reused' : 'built '}  ${s.checkpoint}`);
      }
      return 0;
    },
  });
}

export const command: Command = stageCommand(
  'upcycle',
  'train-mixture',
  'upcycle dense experts into mixtures: seed, branch, experts, mix, train-mixture (content-addressed, resumable)',
  `Runs the whole BAM pipeline of a preset: pre-trains the dense seed on general text, branches it
once per domain, continues pre-training each copy on its domain (10% general, half the seed's LR),
builds every recipe's mixture from the N dense models (the seed is the general expert), and trains
each mixture on equal parts of every domain under each budget (data-matched: the same tokens;
compute-matched: the FLOPs btx spends on them). Every stage output is content-addressed under
--out, so a second run trains nothing and an interrupted run resumes where it stopped. Prints a
table of checkpoints: parameters, tokens, FLOPs and validation loss (nats/token) per domain.`,
);
