/**
 * The system components some tests need (not npm packages: Debian packages), declared in this one
 * place with a detector and the command that installs each. A test file that needs one asks
 * `await needs('chromium')` and runs its tests only when that says true:
 *   - present: the tests run;
 *   - absent: the tests are skipped, the component is noted for the run's one summary line
 *     (printed by tools/test/components-reporter.ts at the end of `npm test`);
 *   - absent under CI=true: `needs` throws, naming the component and its install command, so the
 *     test file fails and CI keeps checking every component.
 * `BAM_TEST_WITHOUT=chromium,openblas` makes the detectors report those components absent (to
 * check the skipping, or to run the suite without them). `npm run test:full` installs what is
 * missing (tools/test/install-components.ts) before running the suite.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, appendFileSync, constants, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** What a detector found: present, or absent and why. */
export type Detection = { present: true } | { present: false; why: string };

/** One system component: what needs it, the Debian packages that provide it, and how to tell it is there. */
export interface Component {
  /** What the tests use it for. */
  purpose: string;
  /** Debian/Ubuntu packages that install it. */
  apt: string[];
  detect(): Detection | Promise<Detection>;
}

/** Chromium for the report's browser test: $CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The Python with Debian's torch and numpy (python3-torch installs for the system Python only); benchmarks/lib/peer.ts runs the same. */
export const PEER_PYTHON = process.env.BAM_PEER_PYTHON ?? '/usr/bin/python3';

/** The python3 on PATH, which the checkpoint tests use to read bam's files with numpy. */
export const PYTHON = 'python3';

function python(exe: string, imports: string): Detection {
  const r = spawnSync(exe, ['-c', `import ${imports}`], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { present: false, why: `${exe}: ${r.error.message}` };
  if (r.status !== 0) return { present: false, why: `${exe} -c 'import ${imports}': ${r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`}` };
  return { present: true };
}

/** The dynamic linker's cache (ldconfig -p): library file name → path. */
function linkerCache(): Map<string, string> {
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/sbin:/usr/sbin` } });
  const out = new Map<string, string>();
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^\s*(\S+) \(.*\) => (\S+)$/.exec(line);
    if (m && !out.has(m[1])) out.set(m[1], m[2]);
  }
  return out;
}

/** Every component a test may need, by name. */
export const COMPONENTS = {
  chromium: {
    purpose: "the report's browser test (packages/eval/test/report/browser.test.ts)",
    apt: ['chromium'],
    detect: (): Detection => {
      try {
        accessSync(CHROMIUM_PATH, constants.X_OK);
        return { present: true };
      } catch {
        return { present: false, why: `no executable at ${CHROMIUM_PATH} (set CHROMIUM_PATH to use another)` };
      }
    },
  },
  openblas: {
    purpose: "wasm's matrix products on OpenBLAS (packages/core/test/ops/blas.test.ts, attention.test.ts)",
    apt: ['libopenblas0-pthread'],
    // What BAM_BLAS=auto loads (packages/core/src/ops/blas.ts): the first library exporting cblas_sgemm.
    detect: async (): Promise<Detection> => {
      const { BLAS_AUTO_LIBRARIES } = await import('@bam/core');
      const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
      for (const lib of BLAS_AUTO_LIBRARIES) {
        try {
          koffi.load(lib).func('void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, float *a, int lda, float *b, int ldb, float beta, float *c, int ldc)');
          return { present: true };
        } catch {
          // try the next name
        }
      }
      return { present: false, why: `none of ${BLAS_AUTO_LIBRARIES.join(', ')} loads with cblas_sgemm` };
    },
  },
  pytorch: {
    purpose: "the PyTorch peers' logits cross-checks (benchmarks/test/pytorch-peer.test.ts; bam import: packages/core/test/import, cli/test/import.test.ts, plugins/test/lm/imported.test.ts)",
    apt: ['python3-torch', 'python3-numpy'],
    detect: (): Detection => python(PEER_PYTHON, 'torch, numpy'),
  },
  numpy: {
    purpose: 'reading checkpoints with numpy (packages/core/test/checkpoint/*.test.ts)',
    apt: ['python3-numpy'],
    detect: (): Detection => python(PYTHON, 'numpy'),
  },
  'mesa-egl': {
    purpose: 'a software WebGPU adapter (Dawn on Mesa llvmpipe through OpenGL ES) for the webgpu suite',
    apt: ['libegl1', 'libgles2', 'libegl-mesa0', 'libgl1-mesa-dri'],
    detect: (): Detection => {
      // A GPU machine (benchmarks/gpu/run.sh) tests its hardware adapter and needs no Mesa.
      if (process.env.BAM_WEBGPU_EXPECT_HARDWARE === '1') return { present: true };
      const cache = linkerCache();
      const missing = ['libEGL.so.1', 'libGLESv2.so.2', 'libEGL_mesa.so.0'].filter((l) => !cache.has(l));
      if (missing.length > 0) return { present: false, why: `the dynamic linker finds no ${missing.join(', ')}` };
      const dri = join(dirname(cache.get('libEGL_mesa.so.0') as string), 'dri');
      const drivers = existsSync(dri) ? readdirSync(dri).filter((f) => f.endsWith('_dri.so')) : [];
      return drivers.length > 0 ? { present: true } : { present: false, why: `no Mesa DRI driver in ${dri}` };
    },
  },
  redis: {
    purpose: 'a private Redis for the queue-mode tests and benchmark (packages/plugins/test/e2e/queue.test.ts, benchmarks/queue.ts)',
    apt: ['redis-server'],
    detect: (): Detection => {
      const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 10_000 });
      if (r.error) return { present: false, why: `redis-server: ${r.error.message}` };
      return r.status === 0 ? { present: true } : { present: false, why: `redis-server --version exited with ${r.status}` };
    },
  },
} satisfies Record<string, Component>;

/** A component's name. */
export type ComponentName = keyof typeof COMPONENTS;

/** The command that installs `names` on Debian/Ubuntu. */
export function installCommand(names: readonly ComponentName[]): string {
  const apt = [...new Set(names.flatMap((n) => COMPONENTS[n].apt))];
  return `apt-get install -y --no-install-recommends ${apt.join(' ')}`;
}

/** Components forced absent by BAM_TEST_WITHOUT (comma-separated names). */
function forcedAbsent(): Set<string> {
  return new Set((process.env.BAM_TEST_WITHOUT ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

const detected = new Map<ComponentName, Promise<Detection>>();

/** Runs `name`'s detector once per process (BAM_TEST_WITHOUT wins). */
export function detect(name: ComponentName): Promise<Detection> {
  let d = detected.get(name);
  if (!d) {
    d = forcedAbsent().has(name)
      ? Promise.resolve<Detection>({ present: false, why: 'BAM_TEST_WITHOUT names it' })
      : Promise.resolve().then(() => COMPONENTS[name].detect());
    detected.set(name, d);
  }
  return d;
}

/** Env var naming the folder where test processes note the components they missed (set by vitest.config.ts). */
export const MISSING_DIR_ENV = 'BAM_TEST_MISSING_DIR';

/** True under CI=true (or CI=1): a missing component fails instead of skipping. */
export function strictComponents(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.CI ?? '');
}

/**
 * Whether the tests that need `names` can run here: true when every one is present. When one
 * is absent it returns false (skip them) and notes it for the summary line — or, under CI=true,
 * throws an error naming each missing component, why, and its install command.
 */
export async function needs(...names: ComponentName[]): Promise<boolean> {
  const missing: Array<{ name: ComponentName; why: string }> = [];
  for (const name of names) {
    const d = await detect(name);
    if (!d.present) missing.push({ name, why: d.why });
  }
  if (missing.length === 0) return true;
  const dir = process.env[MISSING_DIR_ENV];
  if (dir && existsSync(dir)) appendFileSync(join(dir, `${process.pid}.txt`), missing.map((m) => `${m.name}\n`).join(''));
  if (strictComponents()) {
    throw new Error(
      `CI=true and this test file needs system components that are missing:\n${missing
        .map((m) => `  - ${m.name} (${COMPONENTS[m.name].purpose}): ${m.why}; install: ${installCommand([m.name])}`)
        .join('\n')}`,
    );
  }
  return false;
}

/** The one line that ends a run which skipped (or, under CI, failed) tests for `missing` components. */
export function summaryLine(missing: readonly ComponentName[], strict: boolean): string {
  const list = missing.map((n) => `${n} (${installCommand([n])})`).join(', ');
  return strict
    ? `bam: FAILED: CI=true and tests need missing system components: ${list}`
    : `bam: skipped the tests that need system components not found here: ${list} — \`npm run test:full\` installs them and runs everything`;
}
