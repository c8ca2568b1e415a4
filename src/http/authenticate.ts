// Resolves the bearer token into the caller on every request, then enforces the route's
// declared access (`config.access`): routes are signed-in only unless they say otherwise.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../database/client.ts';
import { findSessionByTokenHash, touchSession } from '../modules/auth/sessions.repository.ts';
import { hashToken, looksLikeToken } from '../modules/auth/tokens.ts';
import type { Actor, GlobalRole, SignedInUser } from './caller.ts';
import { AppError, unauthenticated } from './errors.ts';

export type RouteAccess = 'public' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    actor: Actor;
  }
}

// The idle clock is refreshed at most this often, so that reads do not each write a row.
const TOUCH_INTERVAL_MS = 30_000;

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1] ?? '';
}

export default fp(
  async function authenticate(app: FastifyInstance, options: { db: Database; tokenIdleSeconds: number }) {
    app.decorateRequest('actor', null as unknown as Actor);

    async function resolveUser(request: FastifyRequest): Promise<SignedInUser | null | 'invalid'> {
      const token = bearer(request);
      if (token === null) return null;
      if (!token || !looksLikeToken(token)) return 'invalid';
      const session = await findSessionByTokenHash(options.db, hashToken(token));
      const now = new Date();
      if (
        !session ||
        session.revokedAt ||
        session.user.disabled ||
        session.expiresAt <= now ||
        session.lastUsedAt.getTime() + options.tokenIdleSeconds * 1000 <= now.getTime()
      ) {
        return 'invalid';
      }
      if (now.getTime() - session.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) await touchSession(options.db, session.id, now);
      return { id: session.userId, role: session.user.role as GlobalRole, sessionId: session.id };
    }

    app.addHook('onRequest', async (request) => {
      const user = await resolveUser(request);
      request.actor = {
        user: user === 'invalid' ? null : user,
        requestId: request.id,
        address: request.ip,
        userAgent: request.headers['user-agent']?.slice(0, 500) ?? null,
      };
      if (request.is404) return;
      const access = request.routeOptions.config.access ?? 'user';
      if (access === 'public') return;
      if (!request.actor.user) throw unauthenticated();
      if (access === 'admin' && request.actor.user.role !== 'admin') {
        throw new AppError('forbidden', 'Only an administrator may do this.');
      }
    });
  },
  { name: 'custodia-authenticate' },
);
