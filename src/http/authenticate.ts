// Resolves the bearer token into the caller on every request, then enforces the route's
// declared access (`config.access`): routes are signed-in only unless they say otherwise.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../database/client.ts';
import { findSessionAndCase, findSessionByTokenHash, type SessionWithUser, touchSession } from '../modules/auth/sessions.repository.ts';
import type { CaseWithRole } from '../modules/cases/cases.repository.ts';
import { hashToken, looksLikeToken } from '../modules/auth/tokens.ts';
import type { Actor, GlobalRole, SignedInUser } from './caller.ts';
import { AppError, unauthenticated } from './errors.ts';
import { UUID } from './uuid.ts';

export type RouteAccess = 'public' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /**
     * The route reads the case its `:caseId` names: authentication fetches it, with the caller's
     * role in it, in the same statement as the session (request.preloadedCase).
     */
    preloadCase?: boolean;
  }
  interface FastifyRequest {
    actor: Actor;
    /** Set on `preloadCase` routes for a signed-in caller and a well-formed id; null otherwise. */
    preloadedCase: PreloadedCase | null;
  }
}

/** The case `id` as the signed-in caller's session read it (found: null when there is none). */
export interface PreloadedCase {
  id: string;
  found: CaseWithRole | null;
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
    app.decorateRequest('preloadedCase', null);

    async function resolveUser(request: FastifyRequest): Promise<SignedInUser | null | 'invalid'> {
      const token = bearer(request);
      if (token === null) return null;
      if (!token || !looksLikeToken(token)) return 'invalid';
      const caseId = request.routeOptions.config.preloadCase ? (request.params as { caseId?: string }).caseId : undefined;
      // Only a well-formed id is sent with the session (anything else fails validation after this hook).
      const withCase = caseId !== undefined && UUID.test(caseId);
      const session: (SessionWithUser & { case?: CaseWithRole | null }) | null = withCase
        ? await findSessionAndCase(options.db, hashToken(token), caseId)
        : await findSessionByTokenHash(options.db, hashToken(token));
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
      if (session.case !== undefined) request.preloadedCase = { id: caseId!, found: session.case };
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
