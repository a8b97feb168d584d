import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  REPORT_FIGURES,
  ResultsError,
  SWEEP_CONFIG_FILE,
  buildReport,
  entropyRatioMetricName,
  formatStderr,
  formatValue,
  parseRoutingMetric,
  roundToError,
  resultsCsv,
  routingMetricName,
  rowLabel,
  taskDomain,
  writeReport,
  type ResultRow,
} from '../../src/index.ts';
import { readCsv, tmp } from '../helpers.ts';
import { DOWNSTREAM_TASKS, EXPERTS, FAILED, LAYERS, PAPER_TABLE_1, ROUTING_TASKS, fixtureRows, writeFixture } from './fixture.ts';
import { figures, markLabels, tableById, tableRecords } from './html.ts';

const NOW = new Date('2026-01-02T03:04:05Z');

/** The fixture folder and its report, written once per test that asks. */
async function fixtureReport(opts: { training?: boolean } = {}): Promise<{ dir: string; html: string; csv: Record<string, string>[] }> {
  const dir = tmp('bam-report-');
  writeFixture(dir, opts);
  const path = await writeReport(dir, { now: NOW, config: { name: 'paper-small', seeds: [0] } });
  expect(path).toBe(join(dir, 'report.html'));
  return { dir, html: readFileSync(path, 'utf8'), csv: readCsv(join(dir, 'results.csv')) };
}

function csvValue(csv: Record<string, string>[], variant: string, budget: string, task: string, metric: string): string {
  const hit = csv.filter((r) => r.variant === variant && r.budget === budget && r.task === task && r.metric === metric);
  expect(hit, `${variant} ${budget} ${task} ${metric}`).toHaveLength(1);
  return hit[0].value;
}

describe('the report tables', () => {
  it('shows Table 1 with the paper’s columns and every perplexity of results.csv at full precision', async () => {
    const { html, csv } = await fixtureReport();
    const rows = tableById(html, 'table-perplexity');
    expect(rows[0].map((c) => c.text)).toEqual(['variant', 'general', 'code', 'law', 'math', 'average', 'out-of-domain']);
    expect(rows[0].slice(1).map((c) => c.attrs['data-task'] ?? '')).toEqual(['ppl-general', 'ppl-code', 'ppl-law', 'ppl-math', '', 'ppl-ood']);
    expect(rows.slice(1).map((r) => r[0].text)).toEqual(PAPER_TABLE_1.map((v) => rowLabel(v.variant, v.budget)));
    expect(rows.slice(1).map((r) => r[0].text)).toContain('bam-kv-shared CM');
    const table = tableRecords(html, 'table-perplexity');
    let checked = 0;
    for (const v of PAPER_TABLE_1) {
      const row = table.get(rowLabel(v.variant, v.budget))!;
      (['general', 'code', 'law', 'math'] as const).forEach((domain, d) => {
        const cell = row.get(domain)!;
        const value = csvValue(csv, v.variant, v.budget, `ppl-${domain}`, 'token_perplexity');
        expect(cell.attrs['data-value']).toBe(value);
        expect(Number(cell.attrs['data-value'])).toBe(v.ppl[d]);
        const stderr = csv.find((r) => r.variant === v.variant && r.budget === v.budget && r.task === `ppl-${domain}` && r.metric === 'token_perplexity')!.stderr;
        expect(cell.attrs['data-stderr']).toBe(stderr);
        // Shown rounded to its error: the error with two significant digits, the value to the same decimal.
        expect(cell.text).toBe(`${roundToError(v.ppl[d], Number(stderr))}±${roundToError(Number(stderr), Number(stderr))}`);
        checked++;
      });
    }
    expect(checked).toBe(36);
    // The lowest perplexity of each column is bold: BAM DM expert-KV wins code, law and math (as in the paper).
    for (const domain of ['code', 'law', 'math']) expect(table.get('bam-full DM')!.get(domain)!.attrs.class).toBe('ok best');
    expect(table.get('seed')!.get('general')!.attrs.class).toBe('ok best');
  });

  it('makes the average column the mean of the four domain columns', async () => {
    const { html } = await fixtureReport();
    const table = tableRecords(html, 'table-perplexity');
    for (const v of PAPER_TABLE_1) {
      const row = table.get(rowLabel(v.variant, v.budget))!;
      const four = ['general', 'code', 'law', 'math'].map((d) => Number(row.get(d)!.attrs['data-value']));
      const avg = Number(row.get('average')!.attrs['data-value']);
      expect(avg).toBeCloseTo((four[0] + four[1] + four[2] + four[3]) / 4, 12);
      expect(avg).toBeCloseTo((v.ppl[0] + v.ppl[1] + v.ppl[2] + v.ppl[3]) / 4, 12);
    }
    // The paper's seed row: (23.98 + 8.62 + 8.92 + 14.12) / 4 = 13.91, shown to its error's precision.
    expect(Number(table.get('seed')!.get('average')!.attrs['data-value'])).toBeCloseTo(13.91, 12);
    expect(table.get('seed')!.get('average')!.text).toMatch(/^13\.9\d?±0\.\d+$/);
  });

  it('rounds every cell to what its standard error supports', () => {
    expect(formatValue(437.9, false, 35.7)).toBe('438');
    expect(formatStderr(35.7)).toBe('36');
    expect(formatValue(0.7512, true, 0.0031)).toBe('75.12');
    expect(formatStderr(0.0031, true)).toBe('0.31');
    expect(formatValue(3.14159, false, null)).toBe('3.142');
    // Huge values (an untrained model's word perplexity) as mantissa and exponent.
    expect(formatValue(1.234e30, false, 5.6e28)).toBe('1.234e30');
    expect(formatStderr(5.6e28)).toBe('5.6e28');
  });

  it('marks the failed job’s cell as failed with its error, and lists it under failed jobs', async () => {
    const { html } = await fixtureReport();
    const label = rowLabel(FAILED.variant, FAILED.budget);
    const cell = tableRecords(html, 'table-perplexity').get(label)!.get('out-of-domain')!;
    expect(cell).toMatchObject({ text: 'failed', attrs: { 'data-status': 'failed', title: FAILED.error } });
    expect(cell.attrs['data-value']).toBeUndefined();
    const failures = tableById(html, 'failed-jobs');
    expect(failures.slice(1).map((r) => r.map((c) => c.text))).toEqual([[label, 'ppl-ood', '0', FAILED.error]]);
    // bits_per_byte of the same job is failed too, in the other-metrics table.
    expect(tableRecords(html, 'table-metric-bits_per_byte').get(label)!.get('ppl-ood')!.attrs['data-status']).toBe('failed');
  });

  it('shows Table 3 with acc and acc_norm per task in percent and their averages', async () => {
    const { html, csv } = await fixtureReport();
    const rows = tableById(html, 'table-downstream');
    expect(rows[0].slice(1).map((c) => c.text)).toEqual([...DOWNSTREAM_TASKS.flatMap((t) => [`${t} acc`, `${t} acc_norm`]), 'average acc', 'average acc_norm']);
    const table = tableRecords(html, 'table-downstream');
    for (const v of PAPER_TABLE_1) {
      const row = table.get(rowLabel(v.variant, v.budget))!;
      for (const metric of ['acc', 'acc_norm']) {
        const values = DOWNSTREAM_TASKS.map((t) => {
          const cell = row.get(`${t} ${metric}`)!;
          const value = csvValue(csv, v.variant, v.budget, t, metric);
          expect(cell.attrs['data-value']).toBe(value);
          expect(cell.text.startsWith((Number(value) * 100).toFixed(1))).toBe(true);
          return Number(value);
        });
        expect(Number(row.get(`average ${metric}`)!.attrs['data-value'])).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 12);
      }
    }
  });
});

describe('the report figures', () => {
  it('draws one chart per declared figure, each with its marks', async () => {
    const { html } = await fixtureReport();
    const figs = figures(html);
    expect(figs.map((f) => f.id)).toEqual(REPORT_FIGURES.map((f) => f.id));
    // The fixture is a bare results.csv: no plan and no per-document scores, so nothing to pair.
    expect(figs.find((f) => f.id === 'forest')!.inner).toContain('no paired comparison against a baseline in this sweep');
    for (const f of figs.filter((x) => x.id !== 'forest')) {
      expect(f.inner.match(/<svg /g), f.id).toHaveLength(1);
      expect(f.inner, f.id).not.toContain('figure-empty');
      expect(f.spec?.data.values.length, f.id).toBeGreaterThan(0);
    }
    // Bars: one per ok (variant, domain) cell of Table 1 — 9 variants × 5 tasks − the failed one.
    const ppl = figs.find((f) => f.id === 'perplexity-bars')!;
    const bars = markLabels(ppl.inner, 'rect', 'layer_0_marks');
    expect(bars).toHaveLength(9 * 5 - 1);
    expect(bars).toContain('group: general; token perplexity (log scale): 23.98; variant: seed; column: general; value: 23.98; stderr: 0.3543');
    // Error bars: one rule per bar, from value − stderr to value + stderr.
    expect(markLabels(ppl.inner, 'rule', 'layer_1_marks')).toHaveLength(9 * 5 - 1);
    for (const d of ppl.spec!.data.values) {
      expect(d.lo as number).toBeCloseTo((d.value as number) - (d.stderr as number), 12);
      expect(d.hi as number).toBeCloseTo((d.value as number) + (d.stderr as number), 12);
    }
    const down = figs.find((f) => f.id === 'downstream-bars')!;
    expect(markLabels(down.inner, 'rect', 'child_layer_0_marks')).toHaveLength(9 * 3 * 2);
  });

  it('puts exactly the routing-analysis rows into the heatmap', async () => {
    const { html, csv } = await fixtureReport();
    const routing = csv.filter((r) => parseRoutingMetric(r.metric));
    // btx: FFN shares only; the four BAM rows: FFN shares and attention weights; 3 domains, 2 layers, 4 experts.
    expect(routing).toHaveLength((1 + 4 * 2) * ROUTING_TASKS.length * LAYERS * EXPERTS);
    const heat = figures(html).find((f) => f.id === 'routing-heatmap')!;
    const data = heat.spec!.data.values;
    expect(data).toHaveLength(routing.length);
    const key = (row: string, task: string, kind: string, layer: number, expert: number): string => [row, task, kind, layer, expert].join('|');
    const fromHeat = new Map(data.map((d) => [key(d.row as string, d.task as string, d.kind as string, d.layer as number, d.expert as number), d.value]));
    for (const r of routing) {
      const m = parseRoutingMetric(r.metric)!;
      expect(fromHeat.get(key(rowLabel(r.variant, r.budget), r.task, m.kind, m.layer, m.expert))).toBe(Number(r.value));
    }
    // One heatmap cell (rect) and one printed value (text) per row.
    expect(markLabels(heat.inner, 'rect', 'child_layer_0_marks')).toHaveLength(routing.length);
    expect(markLabels(heat.inner, 'text', 'child_layer_1_marks')).toHaveLength(routing.length);
    // FFN shares of one layer sum to 1 (the fixture normalises them; the figure keeps them).
    const layer0 = data.filter((d) => d.row === 'btx' && d.task === 'routing-code' && d.kind === 'ffn_share' && d.layer === 0);
    expect(layer0.reduce((s, d) => s + (d.value as number), 0)).toBeCloseTo(1, 12);
  });

  it('plots each router’s entropy / ln E per layer as the mean over the routing tasks', async () => {
    const { html, csv } = await fixtureReport();
    const fig = figures(html).find((f) => f.id === 'router-entropy')!;
    const data = fig.spec!.data.values;
    // btx: an FFN router per layer; the four BAM rows: FFN and attention routers; 2 layers.
    expect(data).toHaveLength((1 + 4 * 2) * LAYERS);
    for (const d of data) {
      const [variant, budget] = PAPER_TABLE_1.map((v) => [v.variant, v.budget]).find(([v, b]) => rowLabel(v, b) === d.row)!;
      const metric = entropyRatioMetricName(d.kind as 'ffn' | 'attn', d.layer as number);
      const vals = csv.filter((r) => r.variant === variant && r.budget === budget && r.metric === metric).map((r) => Number(r.value));
      expect(vals).toHaveLength(ROUTING_TASKS.length);
      expect(d.value as number).toBeCloseTo(vals.reduce((a, b) => a + b, 0) / vals.length, 12);
      expect(d.tasks).toBe(ROUTING_TASKS.length);
    }
    // One point per (row, router, layer), and no table of per-layer entropies.
    expect(markLabels(fig.inner, 'symbol', 'child_layer_0_layer_1_marks').length).toBe(data.length);
    expect(html).not.toContain('id="table-metric-ffn_entropy_ratio.l0"');
  });

  it('plots every stage’s training and validation loss from training/ and training_logs.json', async () => {
    const { dir, html } = await fixtureReport();
    const loss = figures(html).find((f) => f.id === 'training-loss')!;
    const pts = loss.spec!.data.values;
    const count = (stage: string, series: string): number => pts.filter((p) => p.stage === stage && p.series === series).length;
    // seed: steps 10..400 every 10 (40 points), eval every 40 (10); code-expert: 20 + 5; mixture: 20 train, no eval.
    expect([count('seed', 'train'), count('seed', 'validation')]).toEqual([40, 10]);
    expect([count('code-expert', 'train'), count('code-expert', 'validation')]).toEqual([20, 5]);
    expect([count('bam-full mixture', 'train'), count('bam-full mixture', 'validation')]).toEqual([20, 0]);
    expect(pts.find((p) => p.stage === 'seed' && p.series === 'train' && p.step === 40)!.loss).toBeCloseTo(8 / 2, 12);
    expect(pts.find((p) => p.stage === 'seed' && p.series === 'validation' && p.step === 40)!.loss).toBeCloseTo((8 * 1.05) / 2, 12);
    expect(html).toContain(`${join(dir, 'logs', 'mix.jsonl')}: 1 line(s) were not JSON and were skipped.`);
    // One line per (stage, series) — seed and code-expert have two, the mixture one — and one point per log line.
    expect(markLabels(loss.inner, 'line', 'child_layer_0_marks')).toHaveLength(5);
    expect(markLabels(loss.inner, 'symbol', 'child_layer_1_marks')).toHaveLength(pts.length);
    expect(pts).toHaveLength(40 + 10 + 20 + 5 + 20);
  });

  it('says so instead of drawing when the sweep has no routing rows and no training logs', async () => {
    const dir = tmp('bam-report-');
    writeFileSync(join(dir, 'results.csv'), resultsCsv(fixtureRows().filter((r) => !parseRoutingMetric(r.metric))));
    const html = readFileSync(await writeReport(dir), 'utf8');
    const figs = figures(html);
    expect(figs).toHaveLength(REPORT_FIGURES.length);
    const heat = figs.find((f) => f.id === 'routing-heatmap')!;
    expect(heat.inner).toContain('<p class="figure-empty">no routing-analysis rows in this sweep</p>');
    expect(heat.inner).not.toContain('<svg');
    const loss = figs.find((f) => f.id === 'training-loss')!;
    expect(loss.inner).toContain('no training logs found (looked for');
    expect(loss.inner).toContain(join(dir, 'training_logs.json'));
    expect(figs.find((f) => f.id === 'perplexity-bars')!.inner).toContain('<svg');
  });
});

describe('the report file', () => {
  it('is self-contained: no script or stylesheet is fetched and no http(s) address remains but SVG namespaces', async () => {
    const { html } = await fixtureReport();
    expect(html.match(/<script[^>]*\ssrc=/gi)).toBeNull();
    expect(html.match(/<link\b/gi)).toBeNull();
    expect(html.match(/@import/gi)).toBeNull();
    // SVG clip paths refer to elements of the page itself: url(#clip1).
    expect(html.match(/url\((?!#)[^)]*\)/gi)).toBeNull();
    expect(html.match(/\s(src|href)="[^#"][^"]*"/gi)).toBeNull();
    const withoutNamespaces = html.replace(/xmlns(:xlink)?="http:\/\/www\.w3\.org\/(2000\/svg|1999\/xlink)"/g, '');
    expect(withoutNamespaces.match(/https?:\/\/\S{0,40}/g)).toBeNull();
    // Every <script> is inert JSON data (one per drawn figure: all but the forest plot, which needs a plan).
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    expect(scripts).toHaveLength(REPORT_FIGURES.length - 1);
    for (const s of scripts) expect(s).toContain('type="application/json"');
  });

  it('shows the sweep config, saves it beside the results, and finds it again on the next run', async () => {
    const { dir, html } = await fixtureReport();
    expect(html).toContain('<pre class="config" id="sweep-config">{\n  &quot;name&quot;: &quot;paper-small&quot;,');
    expect(JSON.parse(readFileSync(join(dir, SWEEP_CONFIG_FILE), 'utf8'))).toEqual({ name: 'paper-small', seeds: [0] });
    const again = readFileSync(await writeReport(dir, { out: join(dir, 'again.html') }), 'utf8');
    expect(again).toContain(`From ${join(dir, SWEEP_CONFIG_FILE)}.`);
    expect(again).toContain('&quot;paper-small&quot;');
    expect(html).toContain('<dt>@bam/eval version</dt><dd>0.1.0</dd>');
    expect(html).toContain('<dt>backends</dt><dd>wasm</dd>');
    expect(html).toContain('87 jobs planned: 86 ok, 1 failed, 0 pending');
  });

  it('says the config is missing when the folder has no copy of it', async () => {
    const dir = tmp('bam-report-');
    writeFixture(dir, { training: false });
    const html = readFileSync(await writeReport(dir), 'utf8');
    expect(html).toContain('id="sweep-config-missing"');
    expect(existsSync(join(dir, SWEEP_CONFIG_FILE))).toBe(false);
  });

  it('fails with a ResultsError that says what to pass when the folder is not a results folder', async () => {
    const dir = tmp('bam-report-');
    await expect(writeReport(join(dir, 'nope'))).rejects.toThrow(/results folder .*nope does not exist\n {2}hint: pass the folder a sweep wrote/);
    await expect(writeReport(dir)).rejects.toThrow(ResultsError);
    await expect(writeReport(dir)).rejects.toThrow(/neither results.csv nor sweep.json/);
    writeFileSync(join(dir, 'results.csv'), 'variant,task,metric,value\nx,y,z,1\n');
    await expect(writeReport(dir)).rejects.toThrow(/results.csv lacks the column\(s\) stderr, n, seed, budget/);
  });

  it('names the training index file and the bad entry when training_logs.json is malformed', async () => {
    const dir = tmp('bam-report-');
    writeFixture(dir, { training: false });
    writeFileSync(join(dir, 'training_logs.json'), JSON.stringify({ seed: 3 }));
    await expect(writeReport(dir)).rejects.toThrow(/training_logs.json must map stage names to JSONL paths[\s\S]*seed:/);
    writeFileSync(join(dir, 'training_logs.json'), JSON.stringify({ seed: 'missing.jsonl' }));
    await expect(writeReport(dir)).rejects.toThrow(/training log of stage 'seed' not found: .*missing.jsonl/);
  });

  it('reads training logs from the artifacts folder too', async () => {
    const dir = tmp('bam-report-');
    writeFixture(dir, { training: false });
    const artifacts = join(dir, 'artifacts');
    mkdirSync(join(artifacts, 'training', 'law-expert'), { recursive: true });
    writeFileSync(join(artifacts, 'training', 'law-expert', 'train.jsonl'), [1, 2, 3].map((s) => JSON.stringify({ kind: 'train', step: s, loss: 10 - s })).join('\n'));
    const model = buildReport(dir, { artifactsDir: artifacts });
    expect(model.training.logs.map((l) => [l.stage, l.points.map((p) => p.loss)])).toEqual([['law-expert', [9, 8, 7]]]);
  });
});

describe('routing metric names and task domains', () => {
  it('round-trips routing metric names and rejects every other name', () => {
    expect(routingMetricName('ffn_share', 2, 13)).toBe('ffn_share.l2.e13');
    expect(routingMetricName('attn_weight', 0, 0)).toBe('attn_weight.l0.e0');
    expect(parseRoutingMetric('ffn_share.l2.e13')).toEqual({ kind: 'ffn_share', layer: 2, expert: 13 });
    expect(parseRoutingMetric('attn_weight.l10.e3')).toEqual({ kind: 'attn_weight', layer: 10, expert: 3 });
    for (const bad of ['ffn_share.l01.e2', 'ffn_share.l1', 'ffn.l1.e2', 'ffn_share.l1.e2.x', 'acc', 'ffn_share.L1.E2']) expect(parseRoutingMetric(bad), bad).toBeUndefined();
    expect(() => routingMetricName('ffn_share', -1, 0)).toThrow(/layer must be a non-negative integer/);
    expect(() => routingMetricName('ffn_share', 0, 1.5)).toThrow(/expert must be a non-negative integer/);
  });

  it('reads the domain from a task label', () => {
    const cases: Array<[string, string | undefined]> = [
      ['ppl-general', 'general'], ['ppl-code', 'code'], ['ppl_law', 'law'], ['math', 'math'], ['perplexity:math', 'math'],
      ['ppl-ood', 'ood'], ['held-out', 'ood'], ['moby-dick', 'ood'], ['wordnet-cloze', undefined], ['lawful', undefined], ['codex', undefined],
    ];
    for (const [task, domain] of cases) expect(taskDomain(task), task).toBe(domain);
  });

  it('averages seeds and propagates their standard errors', () => {
    const dir = tmp('bam-report-');
    const base: ResultRow = {
      variant: 'v', task: 'ppl-code', metric: 'token_perplexity', value: 4, stderr: 0.3, n: 10, seed: 0, budget: '', task_version: '1',
      config_hash: 'a', backend: 'cpu', package_version: '0.1.0', status: 'ok', error: '', duration_s: 1,
    };
    const rows: ResultRow[] = [base, { ...base, seed: 1, value: 6, stderr: 0.4, config_hash: 'b' }, { ...base, task: 'ppl-law', value: 2, config_hash: 'c' }, { ...base, task: 'ppl-law', seed: 1, status: 'failed', value: null, stderr: null, error: 'boom', config_hash: 'd' }];
    writeFileSync(join(dir, 'results.csv'), resultsCsv(rows));
    const t = buildReport(dir).perplexity!;
    expect(t.columns.map((c) => c.header)).toEqual(['code', 'law', 'average']);
    const [code, law, avg] = t.rows[0].cells;
    expect(code).toMatchObject({ status: 'ok', value: 5, seeds: 2, planned: 2 });
    expect(code.stderr).toBeCloseTo(Math.sqrt(0.3 ** 2 + 0.4 ** 2) / 2, 12);
    expect(law).toMatchObject({ status: 'failed', value: null, error: 'boom' });
    expect(avg).toMatchObject({ status: 'failed', value: null });
  });
});
