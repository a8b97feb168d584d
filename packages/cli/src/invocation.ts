/**
 * How to call bam from the current folder, for commands that print a command to run next:
 * `npx bam` inside the repository (its workspace provides the bin), the bin script elsewhere.
 */
import { relative, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

/** 'npx bam' inside the repository, 'node /abs/packages/cli/bin/bam.mjs' outside it. */
export function bamInvocation(cwd: string = process.cwd()): string {
  const bin = fileURLToPath(new URL('../bin/bam.mjs', import.meta.url));
  const repo = fileURLToPath(new URL('../../../', import.meta.url));
  const rel = relative(repo, cwd);
  return rel.startsWith('..') || isAbsolute(rel) ? `node ${bin}` : 'npx bam';
}
