import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { endSession, signIn, SESSION_TTL_MS, SignInSlowedDown, type Credentials } from '../../../center/index.js';
import { isPalisadeError } from '../../../core/index.js';
import { recordAction } from '../../../store/index.js';
import { actorOf, SESSION_COOKIE } from '../../auth.js';
import type { ServerContext } from '../../context.js';

const SignIn = Type.Union([
  Type.Object({ user: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
  Type.Object({ token: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
]);

/**
 * Dashboard sign-in: POST with a user and password or the admin token sets an httpOnly,
 * SameSite=Strict session cookie, marked Secure when the client used HTTPS (directly, or through
 * a proxy trusted by `trustProxy` that says so in X-Forwarded-Proto); GET says who is signed in
 * and hands the page its CSRF token. Failed sign-ins slow down (429 with Retry-After), never lock out.
 */
export async function sessionRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.post('/session', { config: { auth: 'public' }, schema: { tags: ['session'], body: SignIn } }, async (request, reply) => {
    const credentials = request.body as Credentials;
    try {
      const { secret, session } = await signIn(db, credentials, { ip: request.ip }, context.clock);
      await recordAction(db, { actor: session.subject, action: 'session.sign_in', target: session.subject, details: { ip: request.ip }, at: context.clock.now() });
      reply.setCookie(SESSION_COOKIE, secret, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
        maxAge: Math.floor(SESSION_TTL_MS / 1000),
      });
      return { subject: session.subject, role: session.role, csrf: session.csrf, expiresAt: session.expiresAt.toISOString() };
    } catch (error) {
      if (isPalisadeError(error)) {
        const who = 'user' in credentials ? `user:${credentials.user}` : `token-from:${request.ip}`;
        await recordAction(db, { actor: who, action: error instanceof SignInSlowedDown ? 'session.slowed' : 'session.failed', target: who, details: { ip: request.ip }, at: context.clock.now() });
        if (error instanceof SignInSlowedDown) {
          return reply.status(429).header('retry-after', String(error.retryAfterSeconds)).send({ code: error.code, message: error.toLine() });
        }
      }
      throw error;
    }
  });

  app.get('/session', { config: { auth: 'reader' }, schema: { tags: ['session'] } }, async (request) => {
    const p = request.principal!;
    return { subject: actorOf(request), role: p.isAdmin ? 'admin' : 'reader', csrf: p.csrf ?? null };
  });

  app.delete('/session', { config: { auth: 'reader' }, schema: { tags: ['session'] } }, async (request, reply) => {
    const secret = request.cookies[SESSION_COOKIE];
    if (secret) await endSession(db, secret);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { signedOut: true };
  });
}
