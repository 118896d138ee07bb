import { mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStoreIfAvailable, STORE_BACKENDS } from '../../test/support/store.js';
import { analyzerKey, directoryLayerCache, forgetRecentAnalyses, memoryLayerCache, storeLayerCache, type LayerCache } from './cache.js';
import { DEFAULT_CATALOGERS } from './catalog/index.js';
import type { LayerAnalysis } from './layers.js';

const analysis = (diffId: string, version: string): LayerAnalysis => ({
  diffId,
  files: [{ path: 'var/lib/dpkg/status', cataloger: 'dpkg', analysis: { packages: [{ name: 'bash', version, ecosystem: 'dpkg', purl: '', path: 'var/lib/dpkg/status' }] } }],
  whiteouts: ['usr/share/doc/bash'],
  opaqueDirs: [],
  links: [{ path: 'etc/os-release', target: '../usr/lib/os-release', hard: false }],
  warnings: [],
  entries: 3,
  bytes: 4096,
});

const backends: Array<[string, () => Promise<{ cache: LayerCache; cleanup: () => Promise<void> } | undefined>]> = [
  ['memory', async () => ({ cache: memoryLayerCache(), cleanup: async () => undefined })],
  ['directory', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'palisade-layer-cache-'));
    return { cache: directoryLayerCache(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
  }],
  ...STORE_BACKENDS.map((backend): [string, () => Promise<{ cache: LayerCache; cleanup: () => Promise<void> } | undefined>] => [backend, async () => {
    const temp = await createTestStoreIfAvailable({ backend, name: 'image-cache' });
    return temp && { cache: storeLayerCache(temp.store.db), cleanup: temp.close };
  }]),
];

describe.each(backends)('layer analysis cache (%s)', (kind, make) => {
  let made: Awaited<ReturnType<typeof make>>;
  beforeAll(async () => {
    made = await make();
  });
  afterAll(async () => made?.cleanup());

  it('returns what was stored for the same diff ID and analyzer, and nothing for another analyzer', async (ctx) => {
    if (!made) ctx.skip();
    const key = analyzerKey(DEFAULT_CATALOGERS);
    const diffId = `sha256:${kind}-layer`;
    expect(await made!.cache.get(diffId, key)).toBeUndefined();
    await made!.cache.put(analysis(diffId, '5.2.15-2+b2'), key);
    expect(await made!.cache.get(diffId, key)).toEqual(analysis(diffId, '5.2.15-2+b2'));
    expect(await made!.cache.get(diffId, analyzerKey(DEFAULT_CATALOGERS.slice(1)))).toBeUndefined();
    // A second writer of the same layer (two workers racing) replaces, never fails.
    await made!.cache.put(analysis(diffId, '5.2.15-2+b3'), key);
    // The store answers on its own, without the in-memory copies.
    forgetRecentAnalyses();
    expect((await made!.cache.get(diffId, key))?.files[0]?.analysis.packages?.[0]?.version).toBe('5.2.15-2+b3');
  });

  it('changes the analyzer key when a cataloger version changes', () => {
    const bumped = DEFAULT_CATALOGERS.map((c) => (c.name === 'dpkg' ? { ...c, version: c.version + 1 } : c));
    expect(analyzerKey(bumped)).not.toBe(analyzerKey(DEFAULT_CATALOGERS));
    expect(analyzerKey([...DEFAULT_CATALOGERS].reverse())).toBe(analyzerKey(DEFAULT_CATALOGERS));
  });
});

describe('directory layer cache', () => {
  it('treats a damaged or foreign file as a miss, and leaves no temporary files', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'palisade-layer-cache-'));
    try {
      const cache = directoryLayerCache(dir);
      const key = analyzerKey(DEFAULT_CATALOGERS);
      await cache.put(analysis('sha256:aaa', '1'), key);
      const [sub] = await readdir(path.join(dir, 'layers'));
      const files = await readdir(path.join(dir, 'layers', sub!));
      expect(files).toEqual(['sha256_aaa.json']);
      await writeFile(path.join(dir, 'layers', sub!, 'sha256_aaa.json'), '{"diffId":');
      expect(await cache.get('sha256:aaa', key)).toBeUndefined();
      // A file holding another layer's analysis (renamed by hand) is not this layer's.
      await writeFile(path.join(dir, 'layers', sub!, 'sha256_aaa.json'), JSON.stringify(analysis('sha256:bbb', '1')));
      expect(await cache.get('sha256:aaa', key)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
