/**
 * Reads a sweep results folder for the report: results.csv (the long table the sweep writes),
 * sweep.json (the plan, when present: it names the rows still pending) and the sweep config the
 * run came from (`sweep-config.json`, which `writeReport` saves when the sweep hands it the config).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ResultsError } from '../errors.ts';
import { FILES, RESULT_COLUMNS, type JobPlan, type ResultRow, type SweepPlanFile } from '../results.ts';

/** The copy of the sweep config kept in a results folder, shown in the report's configuration section. */
export const SWEEP_CONFIG_FILE = 'sweep-config.json';

/** Parses RFC 4180 CSV text (quoted fields, doubled quotes, newlines inside quotes) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (c !== '\r') cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

function num(s: string, path: string, line: number, column: string): number | null {
  if (s === '') return null;
  const v = Number(s);
  // NaN is a legitimate stderr (one document); anything else unparseable is a broken file.
  if (Number.isNaN(v) && s !== 'NaN') throw new ResultsError(`${path} line ${line}: column ${column} is '${s}', not a number`, 'rerun the sweep or fix the file');
  return v;
}

/** Parses the text of a results.csv into rows; errors name the file, line and column. */
export function parseResultsCsv(text: string, path: string = FILES.results): ResultRow[] {
  const [head, ...body] = parseCsv(text);
  if (!head) return [];
  const missing = RESULT_COLUMNS.filter((c) => !head.includes(c));
  if (missing.length > 0) {
    throw new ResultsError(`${path} lacks the column(s) ${missing.join(', ')}`, `its header must be: ${RESULT_COLUMNS.join(',')}`);
  }
  const at = Object.fromEntries(RESULT_COLUMNS.map((c) => [c, head.indexOf(c)])) as Record<keyof ResultRow, number>;
  return body
    .map((cells, i) => ({ cells, line: i + 2 }))
    .filter(({ cells }) => !(cells.length === 1 && cells[0] === ''))
    .map(({ cells, line }) => {
      const get = (c: keyof ResultRow): string => cells[at[c]] ?? '';
      const status = get('status');
      if (status !== 'ok' && status !== 'failed') throw new ResultsError(`${path} line ${line}: status is '${status}', expected ok or failed`);
      const seed = num(get('seed'), path, line, 'seed');
      return {
        variant: get('variant'),
        task: get('task'),
        metric: get('metric'),
        value: num(get('value'), path, line, 'value'),
        stderr: num(get('stderr'), path, line, 'stderr'),
        n: num(get('n'), path, line, 'n'),
        seed: seed ?? 0,
        budget: get('budget'),
        task_version: get('task_version'),
        config_hash: get('config_hash'),
        backend: get('backend'),
        package_version: get('package_version'),
        status,
        error: get('error'),
        duration_s: num(get('duration_s'), path, line, 'duration_s'),
      };
    });
}

/** What the report reads from a results folder. */
export interface ResultsFolder {
  dir: string;
  rows: ResultRow[];
  /** The plan (sweep.json), when the folder has one. */
  plan?: SweepPlanFile;
  /** The sweep config as written, and where it came from ('' when none was found). */
  config?: unknown;
  configSource: string;
}

/**
 * Reads results.csv, sweep.json and the saved sweep config of `dir`. A folder with neither
 * results.csv nor sweep.json is not a results folder (ResultsError with a hint).
 */
export function readResultsFolder(dir: string, opts: { config?: unknown; configSource?: string } = {}): ResultsFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ResultsError(`results folder ${dir} does not exist`, 'pass the folder a sweep wrote (bam sweep --out DIR)');
  }
  const csvPath = join(dir, FILES.results);
  const planPath = join(dir, FILES.plan);
  if (!existsSync(csvPath) && !existsSync(planPath)) {
    throw new ResultsError(`${dir} is not a sweep results folder: it has neither ${FILES.results} nor ${FILES.plan}`, 'pass the folder a sweep wrote (bam sweep --out DIR)');
  }
  const rows = existsSync(csvPath) ? parseResultsCsv(readFileSync(csvPath, 'utf8'), csvPath) : [];
  let plan: SweepPlanFile | undefined;
  if (existsSync(planPath)) {
    try {
      plan = JSON.parse(readFileSync(planPath, 'utf8')) as SweepPlanFile;
    } catch (err) {
      throw new ResultsError(`${planPath} is not valid JSON: ${(err as Error).message}`, 'rerun the sweep with --resume to rewrite it');
    }
    if (!plan || !Array.isArray(plan.jobs)) throw new ResultsError(`${planPath} has no "jobs" list`, 'rerun the sweep with --resume to rewrite it');
  }
  let config = opts.config;
  let configSource = opts.config !== undefined ? (opts.configSource ?? 'given by the caller') : '';
  const saved = join(dir, SWEEP_CONFIG_FILE);
  if (config === undefined && existsSync(saved)) {
    try {
      config = JSON.parse(readFileSync(saved, 'utf8'));
      configSource = saved;
    } catch (err) {
      throw new ResultsError(`${saved} is not valid JSON: ${(err as Error).message}`, 'fix or delete the file');
    }
  }
  return { dir, rows, plan, config, configSource };
}

/** The plan's jobs, or none. */
export function planJobsOf(folder: ResultsFolder): readonly JobPlan[] {
  return folder.plan?.jobs ?? [];
}
