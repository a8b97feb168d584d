/**
 * `bam compare`: paired comparisons of every variant against a baseline, from a sweep's results
 * folder (docs.jsonl), printed as tables like lm-evaluation-harness's: the difference and relative
 * difference with a 95% CI from a paired bootstrap over documents (hierarchical over seeds), the
 * p-value (McNemar for accuracies, a sign-flip permutation test otherwise, the bootstrap's with
 * several seeds) and its Holm-adjusted value. Recomputes from the documents with the same seeds as
 * the sweep's compare_<metric>.csv, so both show the same numbers.
 */
import { COMPARE_FORMATS, compareResults, renderComparisons, type CompareFormat } from '@bam/eval';
import { UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam compare',
  options: {
    baseline: {
      kind: 'string',
      arg: 'NAME',
      defaultText: "compare.baseline of the sweep config, else the first variant whose plugin id is not 'dense', i.e. the first mixture",
      help: 'a variant ("btx") or a row with its budget ("btx [data-matched]")',
    },
    metric: { kind: 'string', arg: 'M', multiple: true, defaultText: 'every headline metric', help: 'only this metric (repeat, or separate with commas)' },
    format: { kind: 'string', arg: 'F', default: 'markdown', help: `${COMPARE_FORMATS.join(' | ')} (csv: the columns of compare_<metric>.csv)` },
    iters: { kind: 'int', min: 0, defaultText: "the sweep's bootstrapIters", help: 'bootstrap and permutation resamples' },
  },
  positionals: { name: 'RESULTS_DIR', help: 'the results folder of a sweep (bam sweep --out DIR)', min: 1, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'compare',
  summary: 'paired comparisons against a baseline (Δ%, 95% CI, McNemar/permutation p, Holm) from a results folder',
  spec,
  usage: {
    usage: 'bam compare RESULTS_DIR [--baseline NAME] [--metric M] [--format markdown|csv|json] [--iters N]',
    description: `Compares every variant of a sweep with a baseline on the same documents (paired), per headline
metric and task, plus the average over a metric's tasks:
  value, baseline value, Δ and Δ% with a 95% CI (paired bootstrap over documents; with several
  seeds, seeds are resampled first, so the CI includes training-run variance), the p-value of
  "no difference" (exact McNemar for 0/1 accuracies with one seed, a paired sign-flip permutation
  test for other metrics, the hierarchical bootstrap's with several seeds) and the Holm-adjusted
  p-value across the variants of each task. Marks: * p<0.05, ** p<0.01, *** p<0.001 (Holm).

Exit code 0, or 2 on a bad argument, a folder that is not a results folder, or documents that
differ between a variant and the baseline.`,
  },
  async run({ values, positionals }) {
    const format = values.format as CompareFormat;
    if (!COMPARE_FORMATS.includes(format)) throw new UsageError(spec.command, `--format: '${values.format}' is not one of ${COMPARE_FORMATS.join(', ')}`);
    const { iters } = values;
    const metrics = values.metric.length > 0 ? values.metric.flatMap((m) => m.split(',')).filter((m) => m !== '') : undefined;
    const tables = compareResults(positionals[0], { baseline: values.baseline, metrics, iters });
    process.stdout.write(`${renderComparisons(tables, format)}\n`);
    return 0;
  },
});
