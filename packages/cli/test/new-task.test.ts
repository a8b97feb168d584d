import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '@bam/eval';

const BIN = join(import.meta.dirname, '..', 'bin', 'bam.mjs');
const home = mkdtempSync(join(tmpdir(), 'bam-new-task-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function bam(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: home, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bam new-task', () => {
  it('writes a task, its package.json and a sweep config whose printed command runs it to a results.csv', () => {
    const made = bam('new-task', 'count-words', '--preset', 'smoke');
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const dir = join(home, 'count-words');
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toMatchObject({ type: 'module' });
    const example = readFileSync(join(import.meta.dirname, '..', '..', 'eval', 'examples', 'arith-choice.ts'), 'utf8');
    expect(readFileSync(join(dir, 'count-words.ts'), 'utf8')).toBe(example.replace("id: 'arith-choice'", "id: 'count-words'"));
    // outside the repository the printed command is node + bam's bin script
    const command = made.stdout.split('\n').find((l) => l.includes(' sweep --config '))!.trim();
    expect(command).toBe(`node ${BIN} sweep --config count-words/sweep.json`);

    const ran = bam(...command.split(' ').slice(2), '--workers', '1', '--quiet');
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const [head, ...body] = parseCsv(readFileSync(join(dir, 'results', 'results.csv'), 'utf8'));
    const rows = body.map((cells) => Object.fromEntries(head.map((h, i) => [h, cells[i]])));
    expect(rows.map((r) => [r.variant, r.task, r.metric, r.status, r.n])).toEqual([
      ['seed', 'count-words', 'acc', 'ok', '20'],
      ['seed', 'count-words', 'acc_norm', 'ok', '20'],
    ]);
    for (const r of rows) expect(Number(r.value) * 20).toBeCloseTo(Math.round(Number(r.value) * 20), 9); // a share of 20 documents
    expect(existsSync(join(dir, 'results', 'report.html'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
  }, 300_000); // builds the smoke seed: ~15 s alone, minutes on a loaded 2-core machine

  it('refuses to overwrite without --force and rejects a name that is not a task id, with exit 2 and no stack trace', () => {
    const again = bam('new-task', 'count-words');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('count-words.ts: exists');
    expect(again.stderr).toContain('--force');
    const bad = bam('new-task', 'My_Task');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'My_Task' is not a task id");
    expect(`${again.stderr}${bad.stderr}`).not.toMatch(/\n\s+at /);
  });
});
