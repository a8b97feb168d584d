/**
 * `bam report`: writes the self-contained HTML report of a sweep's results folder — Table 1 and
 * Table 3-shaped tables, perplexity and accuracy bars with error bars, the routing heatmap,
 * training-loss curves, failed jobs and the sweep's configuration. Every sweep also writes it
 * when it ends; this command rewrites it (e.g. after more jobs or new training logs).
 */
import { parseArgs } from 'node:util';
import { SweepConfigError, writeReport, type ConfigIssue } from '@bam/eval';
import type { Command } from '../command.ts';

const usage = `usage: bam report RESULTS_DIR [--out FILE] [--config FILE] [--artifacts DIR] [--metric NAME]

Writes one self-contained HTML file (no network needed to open it) from the results folder a
sweep wrote (results.csv, sweep.json):
  - Table 1: perplexity per domain (general, code, law, math, average, out-of-domain), one row
    per variant and budget (DM = data-matched, CM = compute-matched); Table 3: acc / acc_norm
    per downstream task; a table for every other metric; failed and pending cells say so
  - figures (vega-lite, drawn to SVG now): perplexity and accuracy bars with ± stderr, expert
    usage per domain and layer (routing-analysis rows ffn_share.l{L}.e{E} / attn_weight.l{L}.e{E}),
    training loss per stage (training/<stage>.jsonl, training/<stage>/train.jsonl, or a
    training_logs.json index { "<stage>": "<path>.jsonl" }, in RESULTS_DIR or --artifacts DIR)
  - the sweep config (sweep-config.json in RESULTS_DIR, or --config FILE), versions and backends

  --out FILE        where to write (default: RESULTS_DIR/report.html)
  --config FILE     the sweep config to show (default: RESULTS_DIR/sweep-config.json, saved by the sweep)
  --artifacts DIR   also look for training logs in DIR
  --metric NAME     the perplexity metric of Table 1 (default: token_perplexity, else
                    word_perplexity, else byte_perplexity)

Prints the report's path. Exit code 0, or 2 when RESULTS_DIR is not a results folder.`;

export const command: Command = {
  name: 'report',
  summary: 'write a self-contained HTML report (tables, charts, config) of a sweep results folder',
  usage,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: true,
        options: {
          out: { type: 'string' },
          config: { type: 'string' },
          artifacts: { type: 'string' },
          metric: { type: 'string' },
        },
      });
    } catch (err) {
      throw new SweepConfigError('bam report arguments', [{ path: '(arguments)', message: (err as Error).message }], 'see bam report --help');
    }
    const { values, positionals } = parsed;
    const issues: ConfigIssue[] = [];
    if (positionals.length === 0) issues.push({ path: 'RESULTS_DIR', message: 'required: the results folder of a sweep (bam sweep --out DIR)' });
    if (positionals.length > 1) issues.push({ path: '(arguments)', message: `unexpected: ${positionals.slice(1).join(' ')}` });
    if (issues.length > 0) throw new SweepConfigError('bam report arguments', issues, 'see bam report --help');
    const path = await writeReport(positionals[0], {
      out: values.out,
      configPath: values.config,
      artifactsDir: values.artifacts,
      perplexityMetric: values.metric,
    });
    process.stdout.write(`${path}\n`);
    return 0;
  },
};
