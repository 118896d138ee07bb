import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests start real servers, registries and databases: keep parallelism to the 2 cores.
    maxWorkers: 2,
    pool: 'forks',
  },
});
