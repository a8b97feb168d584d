/**
 * `bam compare`: paired comparisons of every variant against a baseline, from a sweep's results
 * folder (docs.jsonl), printed as tables like lm-evaluation-harness's: the difference and relative
 * difference with a 95% CI from a paired bootstrap over documents (hierarchical over seeds), the
 * p-value (McNemar for accuracies, a sign-flip permutation test otherwise, the bootstrap's with
 * several seeds) and its Holm-adjusted value. Recomputes from the documents with the same seeds as
 * the sweep's compare_<metric>.csv, so both show the same numbers.
 */
import { parseArgs } from 'node:util';
import { COMPARE_FORMATS, SweepConfigError, compareResults, renderComparisons, type CompareFormat, type ConfigIssue } from '@bam/eval';
import type { Command } from '../command.ts';

const usage = `usage: bam compare RESULTS_DIR [--baseline NAME] [--metric M] [--format markdown|csv|json] [--iters N]

Compares every variant of a sweep with a baseline on the same documents (paired), per headline
metric and task, plus the average over a metric's tasks:
  value, baseline value, Δ and Δ% with a 95% CI (paired bootstrap over documents; with several
  seeds, seeds are resampled first, so the CI includes training-run variance), the p-value of
  "no difference" (exact McNemar for 0/1 accuracies with one seed, a paired sign-flip permutation
  test for other metrics, the hierarchical bootstrap's with several seeds) and the Holm-adjusted
  p-value across the variants of each task. Marks: * p<0.05, ** p<0.01, *** p<0.001 (Holm).

  --baseline NAME   a variant ("btx") or a row with its budget ("btx [data-matched]")
                    (default: compare.baseline of the sweep config, else the first variant whose
                    plugin id is not 'dense', i.e. the first mixture)
  --metric M        only this metric (repeat, or separate with commas; default: every headline metric)
  --format F        markdown (default), csv (the columns of compare_<metric>.csv) or json
  --iters N         bootstrap and permutation resamples (default: the sweep's bootstrapIters)

Exit code 0, or 2 on a bad argument, a folder that is not a results folder, or documents that
differ between a variant and the baseline.`;

export const command: Command = {
  name: 'compare',
  summary: 'paired comparisons against a baseline (Δ%, 95% CI, McNemar/permutation p, Holm) from a results folder',
  usage,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: true,
        options: {
          baseline: { type: 'string' },
          metric: { type: 'string', multiple: true },
          format: { type: 'string', default: 'markdown' },
          iters: { type: 'string' },
        },
      });
    } catch (err) {
      throw new SweepConfigError('bam compare arguments', [{ path: '(arguments)', message: (err as Error).message }], 'see bam compare --help');
    }
    const { values, positionals } = parsed;
    const issues: ConfigIssue[] = [];
    if (positionals.length === 0) issues.push({ path: 'RESULTS_DIR', message: 'required: the results folder of a sweep (bam sweep --out DIR)' });
    if (positionals.length > 1) issues.push({ path: '(arguments)', message: `unexpected: ${positionals.slice(1).join(' ')}` });
    const format = values.format as CompareFormat;
    if (!COMPARE_FORMATS.includes(format)) issues.push({ path: '--format', message: `'${values.format}' is not one of ${COMPARE_FORMATS.join(', ')}` });
    const iters = values.iters === undefined ? undefined : Number(values.iters);
    if (iters !== undefined && !/^\d+$/.test(values.iters as string)) issues.push({ path: '--iters', message: `'${values.iters}' is not a whole number` });
    if (issues.length > 0) throw new SweepConfigError('bam compare arguments', issues, 'see bam compare --help');
    const metrics = values.metric?.flatMap((m) => m.split(',')).filter((m) => m !== '');
    const tables = compareResults(positionals[0], { baseline: values.baseline, metrics, iters });
    process.stdout.write(`${renderComparisons(tables, format)}\n`);
    return 0;
  },
};
