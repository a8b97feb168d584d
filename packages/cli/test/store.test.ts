import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArtifactStore } from '@bam/upcycle';

const root = mkdtempSync(join(tmpdir(), 'bam-cli-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function bam(...args: string[]) {
  const r = spawnSync(process.execPath, ['packages/cli/bin/bam.mjs', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Builds an artifact whose checkpoint holds a manifest and `bytes` bytes of weights. */
async function artifact(store: ArtifactStore, stage: 'seed' | 'expert', inputs: unknown, bytes: number) {
  return store.run(stage, inputs, async (dir) => {
    mkdirSync(join(dir, 'model'), { recursive: true });
    writeFileSync(join(dir, 'model', 'checkpoint.json'), JSON.stringify({ contentHash: 'c' }));
    writeFileSync(join(dir, 'model', 'model.safetensors'), Buffer.alloc(bytes, 7));
    return { checkpoint: 'model', contentHash: 'c' };
  });
}

describe('bam store', () => {
  it('verify reports each artifact and exits 1 once one is damaged; gc lists, then deletes only with --yes', async () => {
    const store = new ArtifactStore(root);
    const seed = await artifact(store, 'seed', { s: 1 }, 1000);
    const law = await artifact(store, 'expert', { s: 2 }, 2048);
    const clean = bam('store', 'verify', root);
    expect(clean.code).toBe(0);
    expect(clean.out).toBe(`ok         expert/${law.hash}\nok         seed/${seed.hash}\n2 artifacts: 2 ok, 0 damaged, 0 unfinished, 0 building\n`);

    truncateSync(join(law.checkpointDir, 'model.safetensors'), 100);
    const bad = bam('store', 'verify', root);
    expect(bad.code).toBe(1);
    expect(bad.out.split('\n')[0]).toBe(`damaged    expert/${law.hash}  model/model.safetensors has 100 bytes, DONE.json records 2048`);
    expect(bad.out).toContain(`2 artifacts: 1 ok, 1 damaged, 0 unfinished, 0 building; a run moves damaged ones aside and rebuilds them, or: bam store gc ${root} --yes`);

    const dry = bam('store', 'gc', root);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(new RegExp(`^would delete expert/${law.hash}  \\(damaged artifact: model/model\\.safetensors has 100 bytes, DONE\\.json records 2048, \\d+ B\\)\\nwould free \\d+ B \\(1 entries\\); run again with --yes to delete them\\n$`));
    expect(existsSync(law.dir)).toBe(true);
    const real = bam('store', 'gc', root, '--yes');
    expect(real.out).toMatch(/^deleted expert\/.*\nfreed \d+ B \(1 entries\)\n$/);
    expect(existsSync(law.dir)).toBe(false);
    expect(existsSync(seed.dir)).toBe(true);
    expect(bam('store', 'gc', root).out).toBe('nothing to delete\n');
  });

  it('names what is wrong with its arguments in one line and exits 2', () => {
    const r = bam('store', 'check', root);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^bam store: expected 'verify ARTIFACTS' or 'gc ARTIFACTS', got 'check .*' \(see bam store --help\)\n$/);
    const missing = bam('store', 'verify', join(root, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^bam store: \S+ is not an artifacts directory — give the --out directory of bam upcycle .*\n$/);
  });
});
