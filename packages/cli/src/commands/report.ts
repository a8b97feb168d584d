/**
 * `bam report`: writes the self-contained HTML report of a sweep's results folder — Table 1 and
 * Table 3-shaped tables, perplexity and accuracy bars with error bars, the routing heatmap,
 * training-loss curves, failed jobs and the sweep's configuration. Every sweep also writes it
 * when it ends; this command rewrites it (e.g. after more jobs or new training logs).
 */
import { writeReport } from '@bam/eval';
import { ensureWritableFile, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam report',
  options: {
    out: { kind: 'string', arg: 'FILE', defaultText: 'RESULTS_DIR/report.html', help: 'where to write' },
    config: { kind: 'string', arg: 'FILE', defaultText: 'RESULTS_DIR/sweep-config.json, saved by the sweep', help: 'the sweep config to show' },
    artifacts: { kind: 'string', arg: 'DIR', defaultText: 'none', help: 'also look for training logs in DIR' },
    metric: { kind: 'string', arg: 'NAME', defaultText: 'token_perplexity, else word_perplexity, else byte_perplexity', help: 'the perplexity metric of Table 1' },
  },
  positionals: { name: 'RESULTS_DIR', help: 'the results folder of a sweep (bam sweep --out DIR)', min: 1, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'report',
  summary: 'write a self-contained HTML report (tables, charts, config) of a sweep results folder',
  spec,
  usage: {
    usage: 'bam report RESULTS_DIR [--out FILE] [--config FILE] [--artifacts DIR] [--metric NAME]',
    description: `Writes one self-contained HTML file (no network needed to open it) from the results folder a
sweep wrote (results.csv, sweep.json):
  - Table 1: perplexity per domain (general, code, law, math, average, out-of-domain), one row
    per variant and budget (DM = data-matched, CM = compute-matched); Table 3: acc / acc_norm
    per downstream task; a table for every other metric; failed and pending cells say so
  - figures (vega-lite, drawn to SVG now): perplexity and accuracy bars with ± stderr, expert
    usage per domain and layer (routing-analysis rows ffn_share.l{L}.e{E} / attn_weight.l{L}.e{E}),
    training loss per stage (training/<stage>.jsonl, training/<stage>/train.jsonl, or a
    training_logs.json index { "<stage>": "<path>.jsonl" }, in RESULTS_DIR or --artifacts DIR)
  - the sweep config (sweep-config.json in RESULTS_DIR, or --config FILE), versions and backends

Prints the report's path. Exit code 0, or 2 when RESULTS_DIR is not a results folder.`,
  },
  async run({ values, positionals }) {
    if (values.out !== undefined) ensureWritableFile(values.out, '--out');
    const path = await writeReport(positionals[0], {
      out: values.out,
      configPath: values.config,
      artifactsDir: values.artifacts,
      perplexityMetric: values.metric,
    });
    process.stdout.write(`${path}\n`);
    return 0;
  },
});
