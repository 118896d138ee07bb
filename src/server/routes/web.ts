import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

/** Where `npm run build:web` puts the dashboard: web/dist at the package root (dist/server/routes → ../../../web/dist). */
export function dashboardDir(): string {
  const fromBuild = path.resolve(import.meta.dirname, '../../../web/dist');
  return process.env.PALISADE_WEB_DIR ?? fromBuild;
}

/**
 * The dashboard's static files at `/` (public: they hold no data; every API call they make is
 * authenticated). Client-side routes (/alerts/ID, /settings, ...) get index.html. Without a
 * built dashboard, `/` says how to build it.
 */
export async function webRoutes(app: FastifyInstance, _options: { context: ServerContext }) {
  const root = dashboardDir();
  // Everything this plugin serves is public (static files carry no data).
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), auth: 'public' };
  });
  const built = existsSync(path.join(root, 'index.html'));

  app.addHook('onSend', async (request, reply, payload) => {
    // Pages may only load their own scripts and talk to this server; no framing (clickjacking).
    if (!request.url.startsWith('/api/') && String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
    }
    return payload;
  });

  if (!built) {
    app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) => {
      reply.type('text/html').send('<!doctype html><title>Palisade</title><p>The dashboard is not built. Run <code>npm run build:web</code>; the API is at <a href="/docs">/docs</a>.</p>');
    });
    return;
  }

  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders(res, filePath) {
      // Vite fingerprints assets: cache them for good; index.html always revalidates.
      res.header('cache-control', filePath.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  // Deep links into the single-page app.
  const spa = async (_request: unknown, reply: { sendFile(name: string): unknown }) => reply.sendFile('index.html');
  for (const route of ['/overview', '/alerts', '/alerts/:id', '/recommendations', '/images', '/images/:digest', '/inventory', '/settings', '/costs', '/sign-in']) {
    app.get(route, { config: { auth: 'public' }, schema: { hide: true } }, spa as never);
  }
}
