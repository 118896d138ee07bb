import cookie from '@fastify/cookie';
import createError from '@fastify/error';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { resolveSession } from '../center/index.js';
import { touchToken, verifyToken, type TokenInfo } from '../store/index.js';
import type { ServerContext } from './context.js';
import { Forbidden, Unauthorized } from './errors.js';

/** The dashboard's session cookie (httpOnly, SameSite=Strict; set by routes/api/session.ts). */
export const SESSION_COOKIE = 'palisade_session';
/** The header carrying the session's CSRF token on state-changing requests. */
export const CSRF_HEADER = 'x-csrf-token';
const CsrfRejected = createError('csrf', 'missing or wrong CSRF token: send the x-csrf-token header returned by GET /api/v1/session', 403);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Bearer tokens, and the dashboard's session cookie. Every route declares who may call it in
 * `config.auth`: `public` (health, docs), `admin`, `reader` (read-only API: reader users and
 * admins), `cluster` (a cluster's ingest token), `registry`, `admission` (a cluster token when the
 * API server sends one; without one only if `admissionAuth` is optional). Admin tokens may call everything.
 * A cookie-authenticated request that changes state must also carry the session's CSRF token
 * in `x-csrf-token` (synchronizer token; bearer requests cannot be forged by a browser). Verified tokens are cached briefly so hot ingest
 * paths do not hit the database per request; revocation takes effect within the TTL.
 */
export type AuthRequirement = 'public' | 'admin' | 'reader' | 'cluster' | 'registry' | 'admission';

export interface Principal {
  tokenId: string;
  scope: string;
  isAdmin: boolean;
  /** Set for `cluster:NAME` tokens. */
  cluster?: string;
  /** Set for `registry:NAME` tokens. */
  registry?: string;
  /** Signed in through the dashboard: `user:NAME` or `token:ID`. */
  subject?: string;
  /** Read-only dashboard users. */
  isReader?: boolean;
  /** The session's CSRF token, for GET /api/v1/session. */
  csrf?: string;
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
    const now = context.clock.now().getTime();
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

  await app.register(cookie);
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const requirement = request.routeOptions.config?.auth ?? 'admin';
    if (requirement === 'public') return;
    const header = request.headers.authorization;
    if (requirement === 'admission' && !header) {
      if (context.config.admissionAuth === 'required') throw new Unauthorized();
      return;
    }
    const sessionSecret = request.cookies[SESSION_COOKIE];
    if (!header && sessionSecret) {
      const session = await resolveSession(context.store.db, sessionSecret, context.clock);
      if (!session) throw new Unauthorized();
      const principal: Principal = {
        tokenId: session.subject.replace(/^\w+:/, ''),
        scope: session.role,
        isAdmin: session.role === 'admin',
        isReader: session.role === 'reader',
        subject: session.subject,
        csrf: session.csrf,
      };
      if (!SAFE_METHODS.has(request.method) && request.headers[CSRF_HEADER] !== session.csrf) throw new CsrfRejected();
      if (!allowed(principal, requirement)) {
        throw new Forbidden(`a ${session.role} cannot call ${request.method} ${request.routeOptions.url ?? request.url}`);
      }
      request.principal = principal;
      return;
    }
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    // Docker Hub webhooks cannot send headers: registry webhooks may carry the token as ?token=.
    const queryToken = requirement === 'registry' ? (request.query as { token?: unknown } | undefined)?.token : undefined;
    const secret = match?.[1] ?? (typeof queryToken === 'string' ? queryToken : undefined);
    const info = secret ? await lookup(secret) : undefined;
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
    case 'admission':
      return principal.cluster !== undefined;
    case 'registry':
      return principal.registry !== undefined;
    case 'reader':
      return principal.isReader === true;
    default:
      return false;
  }
}

/** The actor name recorded in the audit trail. */
export function actorOf(request: FastifyRequest): string {
  if (!request.principal) return 'anonymous';
  return request.principal.subject ?? `token:${request.principal.tokenId}`;
}
