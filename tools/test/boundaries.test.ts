import { describe, expect, it } from 'vitest';
import { boundaryViolations, deepImports, loadConstraints, projectGraph } from '../check-boundaries.ts';

describe('module boundaries', () => {
  const constraints = loadConstraints();

  it('the workspace graph follows utils <- core <- upcycle <- plugins -> eval', () => {
    const graph = projectGraph();
    expect(Object.keys(graph.nodes).sort()).toEqual(['benchmarks', 'cli', 'core', 'eval', 'plugins', 'upcycle', 'utils']);
    expect(boundaryViolations(graph, constraints)).toEqual([]);
  });

  it('flags an edge that breaks the direction, e.g. eval importing core', () => {
    const graph = {
      nodes: {
        eval: { name: 'eval', data: { root: 'packages/eval', tags: ['scope:eval'] } },
        core: { name: 'core', data: { root: 'packages/core', tags: ['scope:core'] } },
      },
      dependencies: { eval: [{ target: 'core', type: 'static' }], core: [] },
    };
    expect(boundaryViolations(graph, constraints)).toEqual(['eval (scope:eval) may not depend on core (scope:core) [static]']);
  });

  it('no package deep-imports another package', () => {
    expect(deepImports()).toEqual([]);
  });
});
