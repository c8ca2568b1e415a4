import type { Db } from '../../database/client.ts';

export interface SessionWithUser {
  id: string;
  userId: string;
  expiresAt: Date;
  lastUsedAt: Date;
  revokedAt: Date | null;
  user: { role: string; disabled: boolean };
}

export function findSessionByTokenHash(db: Db, tokenHash: Buffer): Promise<SessionWithUser | null> {
  return db.session.findUnique({
    where: { tokenHash: new Uint8Array(tokenHash) },
    select: { id: true, userId: true, expiresAt: true, lastUsedAt: true, revokedAt: true, user: { select: { role: true, disabled: true } } },
  });
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
