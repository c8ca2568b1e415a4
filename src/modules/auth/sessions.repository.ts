import { hotPath, runSql, type Db } from '../../database/client.ts';
import { CASE_COLUMNS, type CaseWithRole, liveMembershipJoin } from '../cases/cases.repository.ts';

export interface SessionWithUser {
  id: string;
  userId: string;
  expiresAt: Date;
  lastUsedAt: Date;
  revokedAt: Date | null;
  user: { role: string; disabled: boolean };
}

const SESSION_COLUMNS = `s.id::text AS session_id, s.user_id::text, s.expires_at, s.last_used_at, s.revoked_at, u.role AS user_role, u.disabled`;

interface SessionRow {
  session_id: string;
  user_id: string;
  expires_at: Date;
  last_used_at: Date;
  revoked_at: Date | null;
  user_role: string;
  disabled: boolean;
}

function sessionOf(row: SessionRow): SessionWithUser {
  return {
    id: row.session_id,
    userId: row.user_id,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    user: { role: row.user_role, disabled: row.disabled },
  };
}

// Every authenticated request runs this: one indexed join, plain SQL on the pool (hotPath),
// cheaper than Prisma's nested select.
export async function findSessionByTokenHash(db: Db, tokenHash: Buffer): Promise<SessionWithUser | null> {
  const [row] = await runSql<SessionRow>(
    hotPath(db),
    `SELECT ${SESSION_COLUMNS}
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = $1`,
    [tokenHash],
    'session-by-token',
  );
  return row ? sessionOf(row) : null;
}

/**
 * The session, and in the same statement the case `caseId` (a UUID) with the user's live role in
 * it: `GET /cases/{id}`, the hottest read, then costs one round trip instead of two. The case is
 * not read for a revoked session or a disabled user (`case` null, as when there is no such case).
 * The caller still checks the session's lifetimes (on its own clock, as for every request) and
 * decides on access (authorize()).
 */
export async function findSessionAndCase(
  db: Db,
  tokenHash: Buffer,
  caseId: string,
): Promise<(SessionWithUser & { case: CaseWithRole | null }) | null> {
  const [row] = await runSql<SessionRow & CaseWithRole & { case_role: CaseWithRole['role'] }>(
    hotPath(db),
    `SELECT ${SESSION_COLUMNS}, ${CASE_COLUMNS}, m.role AS case_role
       FROM sessions s JOIN users u ON u.id = s.user_id
       LEFT JOIN cases c ON c.id = $2::uuid AND s.revoked_at IS NULL AND NOT u.disabled
       ${liveMembershipJoin('s.user_id')}
      WHERE s.token_hash = $1`,
    [tokenHash, caseId],
    'session-and-case',
  );
  if (!row) return null;
  const found: CaseWithRole | null =
    row.id === null
      ? null
      : { id: row.id, reference: row.reference, title: row.title, description: row.description, status: row.status, version: row.version, createdAt: row.createdAt, role: row.case_role };
  return { ...sessionOf(row), case: found };
}

export async function touchSession(db: Db, id: string, at: Date): Promise<void> {
  await db.session.update({ where: { id }, data: { lastUsedAt: at } });
}

export async function createSession(
  db: Db,
  data: { userId: string; tokenHash: Buffer; expiresAt: Date; address: string; userAgent: string | null },
): Promise<{ id: string }> {
  return db.session.create({ data: { ...data, tokenHash: new Uint8Array(data.tokenHash) }, select: { id: true } });
}

export async function revokeSession(db: Db, id: string): Promise<void> {
  await db.session.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
}

/** Revokes every live token of a user, except `keep` (the caller's own, after a password change). */
export async function revokeUserSessions(db: Db, userId: string, keep?: string): Promise<number> {
  const { count } = await db.session.updateMany({
    where: { userId, revokedAt: null, ...(keep ? { NOT: { id: keep } } : {}) },
    data: { revokedAt: new Date() },
  });
  return count;
}
