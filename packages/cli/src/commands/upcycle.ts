/**
 * `bam upcycle`: the whole upcycling pipeline of a preset (seed → branch → experts → mix →
 * train-mixture), content-addressed under --out, with progress per stage on stderr and a final
 * table of checkpoints on stdout. The stage commands (`bam seed`, `bam branch`, `bam experts`,
 * `bam mix`, `bam train-mixture`) run the same pipeline up to their stage (reusing what exists),
 * and are made by `stageCommand` below.
 */
import { parseArgs } from 'node:util';
import { ConfigError, selectBackend, type BackendName } from '@bam/core';
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
import type { Command } from '../command.ts';

const COMMON_OPTIONS = `required:
  --preset P            upcycle preset: ${upcyclePresetNames().join(', ')}, or a preset JSON file
  --out DIR             artifacts directory (<DIR>/<stage>/<hash>/); reused and resumed across runs

options:
  --workers N           worker threads for the parallel stages (default: one per core; 1 = inline)
  --recipes a,b         recipe names from the preset, or recipe ids (default: the preset's)
  --budgets a,b         data-matched, compute-matched (default: the preset's)
  --seed S              override the preset's seed (new seed model, experts and mixtures)
  --expert D=DIR        (bam upcycle) a dense expert trained elsewhere for domain D (code, law,
                        math), repeated; then --seed DIR is the seed checkpoint: the seed and
                        expert stages are skipped, and the config and tokenizer are the seed's
  --data D=FILE         (bam upcycle) train the mixtures on your own text for domain D (general,
                        code, law, math) instead of bam's corpus of it, repeated: plain text, or
                        JSONL ({"text": ...} per line) for .jsonl files; validation stays on bam's
  --mixture-seed S      seed only the mixture phase (router init, data order): reuses the experts
  --resume-lr-scale X   a stage that stopped on divergence continues from its last healthy
                        checkpoint at X × its learning rate (0 < X < 1, e.g. 0.1)
  --backend B           tensorflow | webgpu | wasm | cpu (default: best available)
  --verify              hash every file of each reused artifact against its DONE.json (default: sizes,
                        and hashes of files changed since; env BAM_STORE_VERIFY=1 does the same)
  --quiet               no progress lines on stderr
  --json                print one JSON object (the checkpoints) instead of the table`;

const parseOptions = {
  preset: { type: 'string' },
  out: { type: 'string' },
  workers: { type: 'string' },
  recipes: { type: 'string' },
  budgets: { type: 'string' },
  seed: { type: 'string' },
  expert: { type: 'string', multiple: true },
  data: { type: 'string', multiple: true },
  'mixture-seed': { type: 'string' },
  'resume-lr-scale': { type: 'string' },
  backend: { type: 'string' },
  verify: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

function intOpt(what: string, v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${what} options`, [{ path: `--${name}`, message: `must be an integer >= ${min}, got '${v}'` }]);
  return n;
}

function scaleOpt(what: string, v: string): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new ConfigError(`${what} options`, [{ path: '--resume-lr-scale', message: `must be a number between 0 and 1 (exclusive), got '${v}'` }]);
  return n;
}

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
  return {
    name,
    summary,
    usage: `usage: bam ${name} --preset P --out DIR [options]\n\n${usageHead}\n\n${COMMON_OPTIONS}`,
    async run(argv) {
      const { values } = parseArgs({ args: argv, strict: true, options: parseOptions });
      const what = `bam ${name}`;
      const issues: Array<{ path: string; message: string }> = [];
      if (!values.preset) issues.push({ path: '--preset', message: 'is required' });
      if (!values.out) issues.push({ path: '--out', message: 'is required' });
      const budgets = list(values.budgets);
      for (const b of budgets ?? []) {
        if (!(BUDGETS as readonly string[]).includes(b)) issues.push({ path: '--budgets', message: `unknown budget '${b}' (use ${BUDGETS.join(', ')})` });
      }
      const byo = values.expert !== undefined;
      if (byo && stage !== 'train-mixture') issues.push({ path: '--expert', message: `is for bam upcycle, not bam ${name}` });
      if (values.data !== undefined && stage !== 'train-mixture') issues.push({ path: '--data', message: `is for bam upcycle, not bam ${name}` });
      if (byo && values.seed === undefined) issues.push({ path: '--seed', message: 'is required with --expert: the seed checkpoint directory (the general expert)' });
      if (issues.length) throw new ConfigError(`${what} options`, issues, `see bam ${name} --help`);
      // Parse the preset before anything slow, so a bad one fails first.
      const preset = loadUpcyclePreset(values.preset!);
      // Through the environment, so the stages' worker threads verify too.
      if (values.verify) process.env.BAM_STORE_VERIFY = '1';
      const quiet = values.quiet || values.json;
      await selectBackend({ prefer: values.backend as BackendName | undefined, log: quiet ? () => {} : undefined });
      const t0 = performance.now();
      const log = quiet ? () => {} : (line: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
      const r = await upcycle(preset, {
        artifactsDir: values.out!,
        workers: intOpt(what, values.workers, 'workers', 1),
        recipes: list(values.recipes),
        budgets: budgets as Budget[] | undefined,
        ...(values.data !== undefined ? { data: parseDataFiles(values.data) } : {}),
        ...(byo ? { given: { seed: values.seed!, experts: parseGivenExperts(values.expert!) } } : { seed: intOpt(what, values.seed, 'seed', 0) }),
        mixtureSeed: intOpt(what, values['mixture-seed'], 'mixture-seed', 0),
        ...(values['resume-lr-scale'] !== undefined ? { resumeLrScale: scaleOpt(what, values['resume-lr-scale']) } : {}),
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
  };
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
