import { hotPath, runSql, type Db } from '../../database/client.ts';

export interface SessionWithUser {
  id: string;
  userId: string;
  expiresAt: Date;
  lastUsedAt: Date;
  revokedAt: Date | null;
  user: { role: string; disabled: boolean };
}

// Every authenticated request runs this: one indexed join in SQL, cheaper than Prisma's nested
// select on this hot path.
export async function findSessionByTokenHash(db: Db, tokenHash: Buffer): Promise<SessionWithUser | null> {
  // Every authenticated request asks this: plain SQL on the pool (hotPath).
  const [row] = await runSql<{ id: string; user_id: string; expires_at: Date; last_used_at: Date; revoked_at: Date | null; role: string; disabled: boolean }>(
    hotPath(db),
    `SELECT s.id::text, s.user_id::text, s.expires_at, s.last_used_at, s.revoked_at, u.role, u.disabled
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = $1`,
    [tokenHash],
    'session-by-token',
  );
  if (!row) return null;
  return {
    id: row.id,
    userId: row.user_id,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    user: { role: row.role, disabled: row.disabled },
  };
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
