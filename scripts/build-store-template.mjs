// The last store step of `npm run build`: makes the embedded database a new data directory starts
// from (initdb, every migration and the job queues, run once here instead of at each first start),
// in dist/store-template. The server uses it only when it matches the build's migrations and PGlite.
// Queues: the server creates the missing ones at start, and pg-boss never changes an existing
// queue, so a template's queues are what a first start would have created.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

process.chdir(path.join(import.meta.dirname, '..'));
const { openStore } = await import('../dist/store/index.js');
const { STORE_TEMPLATE_DIR, writeTemplate } = await import('../dist/store/template.js');
const { loadConfig, systemClock } = await import('../dist/core/index.js');
const { startJobQueue } = await import('../dist/jobs/index.js');
const { jobDefinitions } = await import('../dist/server/job-definitions.js');

const started = performance.now();
// Never seed the template from an older template.
await rm(STORE_TEMPLATE_DIR, { recursive: true, force: true });
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'palisade-store-template-'));
try {
  const store = await openStore({ dataDir });
  try {
    // The defaults, not this machine's palisade.yaml or environment: queue options come from the code alone.
    const config = loadConfig({ env: {}, cwd: dataDir });
    const jobs = await startJobQueue(store, { definitions: jobDefinitions({ config, store, clock: systemClock }, () => undefined), runHandlers: false });
    await jobs.stop(0);
  } finally {
    await store.close();
  }
  await writeTemplate(path.join(dataDir, 'pgdata'));
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
console.error(`embedded database template built in ${((performance.now() - started) / 1000).toFixed(1)} s (${path.relative(process.cwd(), STORE_TEMPLATE_DIR)})`);
