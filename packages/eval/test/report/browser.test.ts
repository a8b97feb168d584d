/**
 * The report as a browser shows it: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) opens report.html from file:// with the network off, and every declared
 * figure must have drawn its marks, with no console error and no request leaving the page.
 * A screenshot goes to test-output/report/ for a person to look at.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_FIGURES, TRAINING_INDEX_FILE, parseRoutingMetric, resultsCsv, writeReport } from '../../src/index.ts';
import { REPO_ROOT, tmp } from '../helpers.ts';
import { fixtureRows, writeFixture } from './fixture.ts';
import { CHROMIUM_PATH, needs } from '../../../../tools/test/components.ts';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = join(REPO_ROOT, 'test-output', 'report');

let browser: Browser;

// Without Chromium every test here is skipped (and named in the run's last line; CI fails instead).
const hasChromium = await needs('chromium');

/** The parts of packages/eval/configs/default.json the main-job test reads. */
interface MainJobConfig {
  seeds: number[];
  seedKind: string;
  compare: { baseline: string };
  variants: Array<{ id: string; name?: string; options?: Record<string, unknown> }>;
  tasks: Array<{ id: string; options?: Record<string, unknown>; variants?: string[] }>;
}

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
});

/** Opens `file` offline; collects console errors, page errors, failed and non-file requests. */
async function open(file: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file://') && !r.url().startsWith('data:')) problems.push(`request to ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`failed request ${r.url()}: ${r.failure()?.errorText}`));
  const response = await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  expect(response?.ok() ?? true).toBe(true);
  return { page, problems };
}

/** Per figure: drawn SVGs, rendered size, mark items and the first mark's box, and the data rows of its spec. */
async function drawnFigures(page: Page) {
  return page.$$eval('figure.report-figure', (figs) =>
    figs.map((f) => {
      const svg = f.querySelector('svg');
      const marks = svg ? [...svg.querySelectorAll('g.role-mark > path, g.role-mark > text, g.role-mark > line, g.role-mark > rect')] : [];
      const box = svg?.getBoundingClientRect();
      // (tsconfig has no DOM lib: the SVG element's getBBox is typed by hand)
      const first = marks[0] as unknown as { getBBox(): { width: number; height: number } } | undefined;
      const spec = f.querySelector('script.figure-spec')?.textContent;
      return {
        id: f.getAttribute('data-figure'),
        svgs: f.querySelectorAll('svg').length,
        width: box?.width ?? 0,
        height: box?.height ?? 0,
        marks: marks.length,
        rects: svg ? svg.querySelectorAll('g.mark-rect.role-mark > path').length : 0,
        firstMarkArea: first ? first.getBBox().width * first.getBBox().height : 0,
        rows: spec ? (JSON.parse(spec) as { data: { values: unknown[] } }).data.values.length : 0,
        empty: f.querySelector('.figure-empty')?.textContent ?? null,
      };
    }),
  );
}

describe.runIf(hasChromium)('the report in headless Chromium', () => {
  it('draws every declared figure with marks, logs no console error and requests nothing from the network', async () => {
    const dir = tmp('bam-report-browser-');
    writeFixture(dir);
    const file = await writeReport(dir, { config: { name: 'paper-small (browser test)', seeds: [0] } });
    const { page, problems } = await open(file);
    const figs = await drawnFigures(page);
    expect(figs.map((f) => f.id)).toEqual(REPORT_FIGURES.map((f) => f.id));
    // The fixture has no plan and no per-document scores: nothing to pair (the main-job test below draws it).
    expect(figs.find((f) => f.id === 'forest')!.empty).toMatch(/^no paired comparison/);
    for (const f of figs.filter((x) => x.id !== 'forest')) {
      expect(f.svgs, f.id!).toBe(1);
      expect(f.empty, f.id!).toBeNull();
      expect(f.width, f.id!).toBeGreaterThan(100);
      expect(f.height, f.id!).toBeGreaterThan(100);
      expect(f.marks, f.id!).toBeGreaterThan(0);
      expect(f.firstMarkArea, f.id!).toBeGreaterThan(0);
    }
    const byId = Object.fromEntries(figs.map((f) => [f.id, f]));
    // Bar charts: one bar per data row plus the two error-bar caps (ticks, also rect marks) per row.
    expect(byId['perplexity-bars'].rects).toBe(3 * byId['perplexity-bars'].rows);
    expect(byId['downstream-bars'].rects).toBe(3 * byId['downstream-bars'].rows);
    // Heatmap: one cell per routing row.
    const routingRows = fixtureRows().filter((r) => parseRoutingMetric(r.metric)).length;
    expect(byId['routing-heatmap'].rows).toBe(routingRows);
    expect(byId['routing-heatmap'].rects).toBe(routingRows);
    // The tables are there and laid out.
    const tableWidth = await page.$eval('#table-perplexity', (t) => t.getBoundingClientRect().width);
    expect(tableWidth).toBeGreaterThan(300);
    expect(await page.$$eval('#table-perplexity tbody tr', (rows) => rows.length)).toBe(9);
    // Table 3 (three tasks × acc, acc_norm + averages) fits the page: no horizontal scrolling.
    const fit = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { documentElement: { clientWidth: number; scrollWidth: number }; querySelector(s: string): { getBoundingClientRect(): { right: number; width: number } } } }).document;
      return { page: d.documentElement.clientWidth, scroll: d.documentElement.scrollWidth, table: d.querySelector('#table-downstream').getBoundingClientRect() };
    });
    expect(fit.table.width).toBeGreaterThan(300);
    expect(fit.table.right).toBeLessThanOrEqual(fit.page);
    expect(fit.scroll).toBeLessThanOrEqual(fit.page);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'report.png'), fullPage: true });
    expect(existsSync(join(SHOTS, 'report.png'))).toBe(true);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it(
    'draws the heatmap, the loss curves, the entropies and the forest plot for a smoke-sized sweep shaped like the main job',
    { timeout: 900_000 },
    async () => {
      // packages/eval/configs/default.json with every size cut down: the smoke model (its upcycle preset
      // with the main job's recipes), two mixture seeds, two documents per task.
      const dir = tmp('bam-report-mainjob-');
      const main = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'eval', 'configs', 'default.json'), 'utf8')) as MainJobConfig;
      const smokeSweep = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'eval', 'configs', 'smoke.json'), 'utf8')) as MainJobConfig;
      const preset = join(dir, 'smoke-main.json');
      const smoke = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'upcycle', 'src', 'presets', 'smoke.json'), 'utf8')) as Record<string, unknown>;
      const tiny = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'upcycle', 'src', 'presets', 'tiny.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(preset, JSON.stringify({ ...smoke, name: 'smoke-main', recipes: tiny.recipes, budgets: tiny.budgets }));
      const config = {
        ...main,
        name: 'main job, smoke-sized',
        seeds: main.seeds.slice(0, 2),
        artifactsDir: join(dir, 'artifacts'),
        bootstrapIters: 200,
        variants: main.variants.map((v) => ({ ...v, options: { ...v.options, preset } })),
        // The smoke model reads 32 tokens: of the downstream tasks, only those the smoke sweep runs fit.
        tasks: main.tasks
          .filter((t) => /^(ppl|routing)-/.test(t.id) || smokeSweep.tasks.some((x) => x.id === t.id))
          .map((t) => ({ ...t, options: { ...t.options, limit: 2, ...('maxChars' in (t.options ?? {}) ? { maxChars: 300 } : {}) } })),
      };
      expect(config.seedKind).toBe('mixture');
      expect(config.compare.baseline).toBe('btx');
      expect(config.tasks.filter((t) => t.id.startsWith('routing-')).length).toBeGreaterThan(0);
      const cfg = join(dir, 'sweep.json');
      writeFileSync(cfg, JSON.stringify(config));
      const out = join(dir, 'out');
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'packages', 'cli', 'bin', 'bam.mjs'), 'sweep', '--config', cfg, '--out', out, '--workers', '2', '--quiet'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 840_000,
      });
      expect(r.status, r.stderr.slice(-3000)).toBe(0);
      // The sweep indexed the training logs of the stages its models came from: the seed, the three
      // experts (shared by both mixture seeds), every data-matched mixture run under each mixture seed
      // and the compute-matched runs, which the main job trains under seed 0 only.
      const index = JSON.parse(readFileSync(join(out, TRAINING_INDEX_FILE), 'utf8')) as Record<string, string>;
      expect(Object.keys(index)).toEqual(expect.arrayContaining(['seed', 'code expert', 'law expert', 'math expert', 'btx (data-matched) · seed 0', 'bam-full (data-matched) · seed 1', 'bam-full (compute-matched)']));
      expect(Object.keys(index).some((k) => k.includes('compute-matched) · seed 1'))).toBe(false);
      const { page, problems } = await open(join(out, 'report.html'));
      const figs = await drawnFigures(page);
      expect(figs.map((f) => f.id)).toEqual(REPORT_FIGURES.map((f) => f.id));
      for (const f of figs) {
        expect(f.empty, f.id!).toBeNull();
        expect(f.svgs, f.id!).toBe(1);
        expect(f.marks, f.id!).toBeGreaterThan(0);
        expect(f.rows, f.id!).toBeGreaterThan(0);
      }
      const byId = Object.fromEntries(figs.map((f) => [f.id, f]));
      // Forest: the five mixture rows but btx (the baseline) × (4 domains + out-of-domain + average).
      expect(byId.forest.rows).toBe(4 * 6);
      // Heatmap: 4 routing domains × (btx DM, CM: FFN; 4 BAM rows: FFN + attention) × 2 layers × 4 experts.
      expect(byId['routing-heatmap'].rects).toBe(4 * (2 + 4 * 2) * 2 * 4);
      // Entropy: (2 FFN-only + 4 × 2) routers × 2 layers.
      expect(byId['router-entropy'].rows).toBe((2 + 4 * 2) * 2);
      // Paired table: every row but the baseline's own (btx CM is compared with btx CM: the same row) — 4 dense + 4 BAM.
      expect(await page.$$eval('#compare-token_perplexity tbody tr', (rows) => rows.length)).toBe(4 + 4);
      expect(await page.evaluate(() => {
        const d = (globalThis as unknown as { document: { documentElement: { clientWidth: number; scrollWidth: number } } }).document;
        return d.documentElement.scrollWidth <= d.documentElement.clientWidth;
      })).toBe(true);
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'report-main-job.png'), fullPage: true });
      expect(problems).toEqual([]);
      await page.context().close();
    },
  );

  it('shows the empty-figure sentences without errors when routing rows and training logs are absent', async () => {
    const dir = tmp('bam-report-browser-');
    writeFileSync(join(dir, 'results.csv'), resultsCsv(fixtureRows().filter((r) => !parseRoutingMetric(r.metric))));
    const { page, problems } = await open(await writeReport(dir));
    const figs = await drawnFigures(page);
    expect(figs).toHaveLength(REPORT_FIGURES.length);
    const byId = Object.fromEntries(figs.map((f) => [f.id, f]));
    expect(byId['routing-heatmap']).toMatchObject({ svgs: 0, empty: 'no routing-analysis rows in this sweep' });
    expect(byId['training-loss'].svgs).toBe(0);
    expect(byId['training-loss'].empty).toMatch(/^no training logs found/);
    expect(byId['perplexity-bars'].marks).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'report-no-routing.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('would catch a page that logs an error or reaches for the network (the checks are not vacuous)', async () => {
    const dir = tmp('bam-report-browser-');
    const file = join(dir, 'bad.html');
    writeFileSync(file, '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script></body></html>');
    const { page, problems } = await open(file);
    await page.waitForTimeout(200);
    expect(problems).toContain('console error: boom');
    expect(problems).toContain('request to http://127.0.0.1:9/x.png');
    expect(problems.some((p) => p.startsWith('failed request http://127.0.0.1:9/x.png'))).toBe(true);
    await page.context().close();
  });
});
