/**
 * Enforces the package dependency direction with Nx tags: reads Nx's project graph (which
 * includes every static import Nx finds in the sources) and checks each edge against the
 * depConstraints in tools/module-boundaries.json. Also rejects deep imports across packages
 * (`@bam/core/src/...`): each package exposes one index.ts.
 *
 * Run: `npx tsx tools/check-boundaries.ts` (exit 1 on a violation); the test suite runs it too.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Constraint { sourceTag: string; onlyDependOnLibsWithTags: string[] }
interface GraphNode { name: string; data: { root: string; tags?: string[] } }
interface Graph { nodes: Record<string, GraphNode>; dependencies: Record<string, { target: string; type: string }[]> }

export const workspaceRoot = fileURLToPath(new URL('..', import.meta.url));

/** Nx's project graph, computed fresh (no daemon, no cache). */
export function projectGraph(root = workspaceRoot): Graph {
  const file = join(mkdtempSync(join(tmpdir(), 'bam-graph-')), 'graph.json');
  execFileSync(join(root, 'node_modules/.bin/nx'), ['graph', `--file=${file}`], {
    cwd: root,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_SKIP_NX_CACHE: 'true' },
    stdio: 'pipe',
  });
  return (JSON.parse(readFileSync(file, 'utf8')) as { graph: Graph }).graph;
}

/** Every edge of `graph` that breaks a constraint, as readable sentences. */
export function boundaryViolations(graph: Graph, constraints: Constraint[]): string[] {
  const out: string[] = [];
  for (const [source, deps] of Object.entries(graph.dependencies)) {
    const node = graph.nodes[source];
    if (!node) continue; // external packages (npm:...) are not projects
    for (const tag of node.data.tags ?? []) {
      const rule = constraints.find((c) => c.sourceTag === tag);
      if (!rule) continue;
      for (const dep of deps) {
        const target = graph.nodes[dep.target];
        if (!target) continue;
        const ok = (target.data.tags ?? []).some((t) => rule.onlyDependOnLibsWithTags.includes(t));
        if (!ok) out.push(`${source} (${tag}) may not depend on ${dep.target} (${(target.data.tags ?? []).join(', ') || 'untagged'}) [${dep.type}]`);
      }
    }
  }
  return out;
}

/** Imports of another package's files instead of its index (`@bam/x/...`). */
export function deepImports(root = workspaceRoot): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|mjs|js)$/.test(name)) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/from\s+['"](@bam\/[a-z-]+\/[^'"]+)['"]/g)) out.push(`${relative(root, p)}: ${m[1]}`);
      }
    }
  };
  for (const top of ['packages', 'benchmarks']) walk(join(root, top));
  return out;
}

export function loadConstraints(root = workspaceRoot): Constraint[] {
  return (JSON.parse(readFileSync(join(root, 'tools/module-boundaries.json'), 'utf8')) as { depConstraints: Constraint[] }).depConstraints;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const problems = [...boundaryViolations(projectGraph(), loadConstraints()), ...deepImports()];
  for (const p of problems) console.error(`boundary violation: ${p}`);
  console.log(problems.length === 0 ? 'module boundaries: ok' : `${problems.length} violation(s)`);
  process.exit(problems.length === 0 ? 0 : 1);
}
