import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { touchToken, verifyToken, type TokenInfo } from '../store/index.js';
import type { ServerContext } from './context.js';
import { Forbidden, Unauthorized } from './errors.js';

/**
 * Bearer tokens. Every route declares who may call it in `config.auth`:
 * `public` (health, docs), `admin`, `cluster` (a cluster's ingest token), `registry`.
 * Admin tokens may call everything. Verified tokens are cached briefly so hot ingest
 * paths do not hit the database per request; revocation takes effect within the TTL.
 */
export type AuthRequirement = 'public' | 'admin' | 'reader' | 'cluster' | 'registry';

export interface Principal {
  tokenId: string;
  scope: string;
  isAdmin: boolean;
  /** Set for `cluster:NAME` tokens. */
  cluster?: string;
  /** Set for `registry:NAME` tokens. */
  registry?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRequirement;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

const CACHE_TTL_MS = 10_000;
const CACHE_MAX = 1000;

export const authentication = fp(async (app: FastifyInstance, { context }: { context: ServerContext }) => {
  const cache = new Map<string, { info: TokenInfo; until: number }>();

  async function lookup(secret: string): Promise<TokenInfo | undefined> {
    const now = Date.now();
    const hit = cache.get(secret);
    if (hit && hit.until > now) return hit.info;
    const info = await verifyToken(context.store.db, secret);
    if (cache.size >= CACHE_MAX) cache.clear();
    if (info) {
      cache.set(secret, { info, until: now + CACHE_TTL_MS });
      // Best effort: a failed "last used" update must not fail the request.
      touchToken(context.store.db, info.id, context.clock.now()).catch(() => {});
    }
    return info;
  }

  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const requirement = request.routeOptions.config?.auth ?? 'admin';
    if (requirement === 'public') return;
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const info = match ? await lookup(match[1]!) : undefined;
    if (!info) throw new Unauthorized();
    const principal = toPrincipal(info);
    if (!allowed(principal, requirement)) {
      throw new Forbidden(`a token with scope ${info.scope} cannot call ${request.method} ${request.routeOptions.url ?? request.url}`);
    }
    request.principal = principal;
  });
});

function toPrincipal(info: TokenInfo): Principal {
  const [kind, name] = info.scope.split(':', 2) as [string, string | undefined];
  return {
    tokenId: info.id,
    scope: info.scope,
    isAdmin: info.scope === 'admin',
    cluster: kind === 'cluster' ? name : undefined,
    registry: kind === 'registry' ? name : undefined,
  };
}

function allowed(principal: Principal, requirement: AuthRequirement): boolean {
  if (principal.isAdmin) return true;
  switch (requirement) {
    case 'cluster':
      return principal.cluster !== undefined;
    case 'registry':
      return principal.registry !== undefined;
    default:
      return false;
  }
}

/** The actor name recorded in the audit trail. */
export function actorOf(request: FastifyRequest): string {
  return request.principal ? `token:${request.principal.tokenId}` : 'anonymous';
}
