import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../../src/core/index.js';
import type { ServerContext } from '../../src/server/context.js';
import { costRoutes } from '../../src/server/routes/api/costs.js';
import { eventRoutes } from '../../src/server/routes/api/events.js';
import { notificationRoutes } from '../../src/server/routes/api/notifications.js';
import { overviewRoutes } from '../../src/server/routes/api/overview.js';
import { scoreRoutes } from '../../src/server/routes/api/score.js';
import { sessionRoutes } from '../../src/server/routes/api/session.js';
import { userRoutes } from '../../src/server/routes/api/users.js';
import { webRoutes } from '../../src/server/routes/web.js';
import { createTestApp, type TestApp } from '../support/app.js';

/**
 * The test app with the security center's routes, registered here until app.ts registers them
 * itself (then this adds nothing): tests exercise the same plugins either way.
 */
export async function createCenterApp(options: Parameters<typeof createTestApp>[0] & { clock?: Clock; dispatch?: boolean } = {}): Promise<TestApp & { context: ServerContext }> {
  const t = await createTestApp(options);
  const context: ServerContext = { config: t.config, store: t.store, jobs: t.jobs, clock: options.clock ?? systemClock };
  await registerCenter(t.app, context, { dispatch: options.dispatch ?? false });
  return { ...t, context };
}

export async function registerCenter(app: FastifyInstance, context: ServerContext, options: { dispatch?: boolean } = {}): Promise<void> {
  if (app.hasRoute({ method: 'GET', url: '/api/v1/session' })) return;
  await app.register(async (api) => {
    await api.register(sessionRoutes, { context });
    await api.register(userRoutes, { context });
    await api.register(eventRoutes, { context });
    await api.register(overviewRoutes, { context });
    await api.register(scoreRoutes, { context });
    await api.register(costRoutes, { context });
    await api.register(notificationRoutes, { context, dispatch: options.dispatch ?? true });
  }, { prefix: '/api/v1' });
  await app.register(webRoutes, { context });
}

/** The cookie header and CSRF token of a signed-in session, from a sign-in response. */
export function sessionOf(response: { headers: Record<string, unknown>; json(): unknown }): { cookie: string; csrf: string } {
  const raw = response.headers['set-cookie'];
  const first = (Array.isArray(raw) ? raw[0] : raw) as string;
  return { cookie: first.split(';')[0]!, csrf: (response.json() as { csrf: string }).csrf };
}
