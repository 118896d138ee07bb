import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// Advisory files fetched from a PostgreSQL store and one-shot layer analyses go to a cache
// directory (~/.cache/palisade for users): the suite keeps its own, never the user's. One fixed
// directory, so runs reuse it instead of leaving one behind each (its files are keyed by version
// and written atomically).
const cacheDir = path.join(os.tmpdir(), 'palisade-test-cache');

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests start real servers, registries and databases: keep parallelism to the 2 cores.
    maxWorkers: 2,
    pool: 'forks',
    env: { PALISADE_CACHE_DIR: cacheDir },
  },
});
