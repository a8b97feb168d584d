/**
 * A vitest reporter (after the default one) that ends the run with one line naming the system
 * components some tests needed and did not find, each with its install command (see
 * components.ts). Test processes note what they missed in files under $BAM_TEST_MISSING_DIR.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter } from 'vitest/reporters';
import { COMPONENTS, strictComponents, summaryLine, type ComponentName } from './components.ts';

export default class ComponentsReporter implements Reporter {
  constructor(private readonly dir: string) {
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }

  onTestRunEnd(): void {
    if (!existsSync(this.dir)) return;
    const noted = new Set<string>();
    // Read and emptied after each run (watch mode runs again into the same folder).
    for (const f of readdirSync(this.dir)) {
      for (const n of readFileSync(join(this.dir, f), 'utf8').split('\n')) if (n) noted.add(n);
      rmSync(join(this.dir, f), { force: true });
    }
    const missing = (Object.keys(COMPONENTS) as ComponentName[]).filter((n) => noted.has(n));
    if (missing.length > 0) process.stdout.write(`\n${summaryLine(missing, strictComponents())}\n`);
  }
}
