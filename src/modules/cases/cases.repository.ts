import { hotPath, runSql, type Db } from '../../database/client.ts';
import type { CaseRole } from './case-permissions.ts';

export interface CaseRow {
  id: string;
  reference: string;
  title: string;
  description: string;
  status: string;
  version: number;
  createdAt: Date;
}

const CASE_FIELDS = { id: true, reference: true, title: true, description: true, status: true, version: true, createdAt: true } as const;

export function findCase(db: Db, id: string): Promise<CaseRow | null> {
  return db.case.findUnique({ where: { id }, select: CASE_FIELDS });
}

/** A case with the caller's live role in it (null without a live membership). */
export type CaseWithRole = CaseRow & { role: CaseRole | null };

/**
 * The SQL of the hottest read, shared with the session lookup that can fetch it in the same
 * statement (src/modules/auth/sessions.repository.ts): the case's columns as CaseRow names them,
 * and the join of the user's live membership (`userId` is an SQL expression).
 */
export const CASE_COLUMNS = `c.id, c.reference, c.title, c.description, c.status, c.version, c.created_at AS "createdAt"`;
export const liveMembershipJoin = (userId: string) =>
  `LEFT JOIN case_memberships m ON m.case_id = c.id AND m.user_id = ${userId} AND (m.expires_at IS NULL OR m.expires_at > now())`;

/** A case with the user's role in it (null without a live membership): one query for the hottest read. */
export async function findCaseWithRole(db: Db, id: string, userId: string): Promise<CaseWithRole | null> {
  const [row] = await runSql<CaseWithRole>(
    hotPath(db),
    `SELECT ${CASE_COLUMNS}, m.role
       FROM cases c
       ${liveMembershipJoin('$2::uuid')}
      WHERE c.id = $1::uuid`,
    [id, userId],
    'case-with-role',
  );
  return row ?? null;
}

export function insertCase(db: Db, data: { reference: string; title: string; description: string; createdBy: string }): Promise<CaseRow> {
  return db.case.create({ data, select: CASE_FIELDS });
}

/** Applies the change only if the row is still at `expected`; answers the number of rows changed (0 or 1). */
export async function updateCaseAtVersion(
  db: Db,
  id: string,
  expected: number,
  changes: { title?: string; description?: string; status?: string },
): Promise<number> {
  const result = await db.case.updateMany({
    where: { id, version: expected },
    data: { ...changes, version: { increment: 1 }, updatedAt: new Date() },
  });
  return result.count;
}

export interface CaseListRow extends CaseRow {
  /** created_at in microseconds since the epoch (full precision, as text): the page cursor. */
  createdAtKey: string;
}

/**
 * Newest first, keyset on (created_at, id). The cursor keeps created_at in microseconds so that
 * the precision a JavaScript Date would drop never makes a page skip or repeat a row.
 */
export function listCases(
  db: Db,
  options: { memberId: string | null; after: { createdAt: string; id: string } | null; take: number },
): Promise<CaseListRow[]> {
  const { memberId, after, take } = options;
  return db.$queryRaw<CaseListRow[]>`
    SELECT c.id::text AS id, c.reference, c.title, c.description, c.status, c.version,
           c.created_at AS "createdAt", (extract(epoch FROM c.created_at) * 1000000)::bigint::text AS "createdAtKey"
      FROM cases c
     WHERE (${memberId}::uuid IS NULL OR EXISTS (
             SELECT 1 FROM case_memberships m
              WHERE m.case_id = c.id AND m.user_id = ${memberId}::uuid
                AND (m.expires_at IS NULL OR m.expires_at > now())))
       AND (${after?.createdAt ?? null}::bigint IS NULL
            OR (c.created_at, c.id) < (timestamptz 'epoch' + ${after?.createdAt ?? null}::bigint * interval '1 microsecond',
                                       ${after?.id ?? null}::uuid))
     ORDER BY c.created_at DESC, c.id DESC
     LIMIT ${take}`;
}

export interface MembershipRow {
  caseId: string;
  userId: string;
  role: string;
  expiresAt: Date | null;
  user: { id: string; email: string; displayName: string };
}

const MEMBERSHIP_FIELDS = {
  caseId: true,
  userId: true,
  role: true,
  expiresAt: true,
  user: { select: { id: true, email: true, displayName: true } },
} as const;

export function insertMembership(db: Db, data: { caseId: string; userId: string; role: CaseRole; expiresAt: Date | null }) {
  return db.caseMembership.create({ data, select: MEMBERSHIP_FIELDS });
}

export function upsertMembership(db: Db, data: { caseId: string; userId: string; role: CaseRole; expiresAt: Date | null }): Promise<MembershipRow> {
  const { caseId, userId, role, expiresAt } = data;
  return db.caseMembership.upsert({
    where: { caseId_userId: { caseId, userId } },
    create: data,
    update: { role, expiresAt, updatedAt: new Date() },
    select: MEMBERSHIP_FIELDS,
  });
}

export async function deleteMembership(db: Db, caseId: string, userId: string): Promise<void> {
  await db.caseMembership.delete({ where: { caseId_userId: { caseId, userId } } });
}

/** Members ordered by user id (keyset), expired memberships included so that they can be managed. */
export function listMemberships(db: Db, caseId: string, afterUserId: string | null, take: number): Promise<MembershipRow[]> {
  return db.caseMembership.findMany({
    where: { caseId, ...(afterUserId ? { userId: { gt: afterUserId } } : {}) },
    orderBy: { userId: 'asc' },
    take,
    select: MEMBERSHIP_FIELDS,
  });
}

export interface LockedMembership {
  userId: string;
  role: string;
  expiresAt: Date | null;
}

/**
 * Locks every membership row of the case until the transaction ends. Any change that could
 * leave a case without a lead rewrites or deletes one of these rows, so two such changes on the
 * same case run one after the other and the second sees what the first did.
 */
export function lockMemberships(db: Db, caseId: string): Promise<LockedMembership[]> {
  return db.$queryRaw<LockedMembership[]>`
    SELECT user_id::text AS "userId", role, expires_at AS "expiresAt"
      FROM case_memberships
     WHERE case_id = ${caseId}::uuid
     ORDER BY user_id
       FOR UPDATE`;
}

export function findUserSummary(db: Db, id: string) {
  return db.user.findUnique({ where: { id }, select: { id: true, email: true, displayName: true, disabled: true } });
}
