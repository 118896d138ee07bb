/**
 * Registry protection at volume: 50 images that share base layers pushed into a real registry,
 * time until all are scanned, images per minute and the layer-cache hit share, against the cold
 * scan time of one image measured in the same run. Target: 50 images in under 10× one cold scan.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/core/index.js';
import { runServer } from '../src/server/index.js';
import { openStore } from '../src/store/index.js';
import { importOsv } from '../src/vulndb/index.js';
import { fixture } from '../test/support/fixtures.js';
import { startRegistry } from '../test/registry/registry.js';
import { imageVariants } from '../test/support/image-variants.js';
import { result, type BenchResult } from './result.js';


export default async function (args: string[], emit: (r: BenchResult) => void): Promise<void> {
  const count = Number(args[0] ?? 50);
  const { layout, dir } = await imageVariants(count, 'bench-registry');

  const dataDir = path.join(dir, 'data');
  const store = await openStore({ dataDir });
  await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
  await store.close();
  const printed: string[] = [];
  const server = await runServer(loadConfig({ env: {}, cwd: dir, flags: { dataDir, port: 0, logLevel: 'warn' } }), { print: (l) => printed.push(l) });
  const admin = /pal_[\w-]+/.exec(printed.join('\n'))![0];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const api = async (url: string, init: RequestInit = {}): Promise<any> => (await fetch(`${server.url}${url}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' } })).json();
  const token = (await api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:bench' }) })).secret as string;
  const registry = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/bench`, token } });
  await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'bench', url: registry.url, kind: 'distribution' }) });

  async function scannedCount(repository: string): Promise<number> {
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await api(`/api/v1/images?repository=${repository}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      n += page.items.filter((i: { lastScanned: string | null }) => i.lastScanned).length;
      cursor = page.next;
    } while (cursor);
    return n;
  }
  async function until(repository: string, wanted: number): Promise<void> {
    while ((await scannedCount(repository)) < wanted) await new Promise((r) => setTimeout(r, 200));
  }

  try {
    // One cold scan: nothing cached; from the push's start to its findings.
    const coldStart = performance.now();
    await registry.push(`oci:${layout}:app`, 'bench/cold:1');
    await until('bench/cold', 1);
    const cold = performance.now() - coldStart;

    const start = performance.now();
    for (let n = 0; n < count; n++) await registry.push(`oci:${layout}:variant-${n}`, `bench/app:v${n}`);
    await until('bench/app', count);
    const all = performance.now() - start;

    emit(result({ bench: 'registry', metric: `scan_${count}_images_ms`, value: Math.round(all), baseline: 'one_cold_scan_ms', baseline_value: Math.round(cold), target: 'ratio < 10', ok: all / cold < 10 }));
    emit(result({ bench: 'registry', metric: 'images_per_minute', value: Math.round((count / all) * 60_000 * 10) / 10, baseline: 'cold_images_per_minute', baseline_value: Math.round((60_000 / cold) * 10) / 10, target: 'informational', ok: true }));
  } finally {
    await server.stop();
    await registry.stop();
  }
  // Layer-cache share, read after the server released the embedded store.
  const after = await openStore({ dataDir });
  const analyses = Number((await after.db.selectFrom('image_layer_analyses').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  await after.close();
  const layersRead = 2 + count * 3;
  // Every layer analysed once is a miss; every other layer read came from the cache.
  const hits = layersRead - analyses;
  emit(result({ bench: 'registry', metric: 'layer_cache_hit_share', value: Math.round((hits / layersRead) * 1000) / 1000, baseline: 'ideal_hit_share', baseline_value: Math.round(((layersRead - (2 + count)) / layersRead) * 1000) / 1000, target: 'ratio >= 0.99', ok: hits / (layersRead - (2 + count)) >= 0.99 }));
  await rm(dir, { recursive: true, force: true });
}
