import type { Db } from '../../database/client.ts';
import type { UserRow } from './users.schema.ts';

const PUBLIC_COLUMNS = {
  id: true,
  email: true,
  displayName: true,
  role: true,
  disabled: true,
  totpEnabled: true,
  version: true,
  createdAt: true,
} as const;

export function findUserById(db: Db, id: string) {
  return db.user.findUnique({ where: { id } });
}

export function findUserByEmail(db: Db, email: string) {
  return db.user.findUnique({ where: { email } });
}

export function insertUser(db: Db, data: { email: string; displayName: string; role: string; passwordHash: string }): Promise<UserRow> {
  return db.user.create({ data, select: PUBLIC_COLUMNS });
}

/** Applies a change only to the version the caller saw; null when the row moved on (or is gone). */
export async function updateUserAtVersion(
  db: Db,
  id: string,
  version: number,
  data: { displayName?: string; role?: string; disabled?: boolean },
): Promise<UserRow | null> {
  const { count } = await db.user.updateMany({ where: { id, version }, data: { ...data, version: { increment: 1 }, updatedAt: new Date() } });
  return count === 0 ? null : db.user.findUnique({ where: { id }, select: PUBLIC_COLUMNS });
}

export async function setPasswordHash(db: Db, id: string, passwordHash: string): Promise<void> {
  await db.user.update({ where: { id }, data: { passwordHash, updatedAt: new Date() } });
}

export interface TotpColumns {
  totpSecret: Uint8Array<ArrayBuffer> | null;
  totpKey: Uint8Array<ArrayBuffer> | null;
  totpKeyId: string | null;
  totpEnabled: boolean;
  totpLastStep: bigint | null;
}

/** Enabling or removing TOTP moves `totpEnabled`, part of the public record: that bumps the version. */
export function setTotp(db: Db, id: string, data: Partial<TotpColumns>, bumpVersion: boolean): Promise<UserRow> {
  return db.user.update({
    where: { id },
    data: { ...data, ...(bumpVersion ? { version: { increment: 1 } } : {}), updatedAt: new Date() },
    select: PUBLIC_COLUMNS,
  });
}

/** Records a TOTP step as used; false when that step (or a later one) was used already. */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
  const claimed = await db.$executeRaw`
    UPDATE users SET totp_last_step = ${BigInt(step)}
    WHERE id = ${id}::uuid AND (totp_last_step IS NULL OR totp_last_step < ${BigInt(step)})`;
  return claimed === 1;
}

/** Newest first; the cursor is the last row's creation time at full (microsecond) precision and id. */
export async function listUsersPage(db: Db, limit: number, after: { createdAt: string; id: string } | null): Promise<(UserRow & { createdAtText: string })[]> {
  const rows = after
    ? await db.$queryRaw<{ id: string; created_at_text: string }[]>`
        SELECT id::text, created_at::text AS created_at_text FROM users
        WHERE (created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)
        ORDER BY created_at DESC, id DESC LIMIT ${limit}`
    : await db.$queryRaw<{ id: string; created_at_text: string }[]>`
        SELECT id::text, created_at::text AS created_at_text FROM users
        ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
  const users = await db.user.findMany({ where: { id: { in: rows.map((r) => r.id) } }, select: PUBLIC_COLUMNS });
  const byId = new Map(users.map((u) => [u.id, u]));
  return rows.flatMap((row) => {
    const user = byId.get(row.id);
    return user ? [{ ...user, createdAtText: row.created_at_text }] : [];
  });
}

export function liveMembershipsOf(db: Db, userId: string, now: Date) {
  return db.caseMembership.findMany({
    where: { userId, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    select: { caseId: true, role: true, expiresAt: true, case: { select: { reference: true } } },
    orderBy: { createdAt: 'asc' },
  });
}
