import { systemClock, type Clock } from '../../src/core/index.js';
import type { ServerContext } from '../../src/server/context.js';
import { createTestApp, type TestApp } from '../support/app.js';

/** The test app (buildApp registers the security center's routes) with its context, for tests that seed data. */
export async function createCenterApp(options: Parameters<typeof createTestApp>[0] & { clock?: Clock } = {}): Promise<TestApp & { context: ServerContext }> {
  const t = await createTestApp(options);
  const context: ServerContext = { config: t.config, store: t.store, jobs: t.jobs, clock: options.clock ?? systemClock };
  return { ...t, context };
}

/** The cookie header and CSRF token of a signed-in session, from a sign-in response. */
export function sessionOf(response: { headers: Record<string, unknown>; json(): unknown }): { cookie: string; csrf: string } {
  const raw = response.headers['set-cookie'];
  const first = (Array.isArray(raw) ? raw[0] : raw) as string;
  return { cookie: first.split(';')[0]!, csrf: (response.json() as { csrf: string }).csrf };
}
