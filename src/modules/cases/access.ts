// The one answer to "may this caller do this action on this case". Everything that touches a
// case's records asks here. A record the caller may not see is the same 404 as a missing one.
import type { Db } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { AppError, notFound } from '../../http/errors.ts';
import { audit } from '../audit/audit.ts';
import { type CaseAction, type CaseRole, adminMay, roleMay, visibilityOf } from './case-permissions.ts';

export interface CaseAccess {
  caseId: string;
  /** The caller's live role in the case, or null for an admin acting without membership. */
  role: CaseRole | null;
}

// Asked on every request that touches a case: one indexed lookup in SQL, cheaper than Prisma's
// query builder on this hot path.
export async function caseRoleOf(db: Db, userId: string, caseId: string): Promise<CaseRole | null> {
  const [membership] = await db.$queryRaw<{ role: CaseRole }[]>`
    SELECT role FROM case_memberships
     WHERE case_id = ${caseId}::uuid AND user_id = ${userId}::uuid AND (expires_at IS NULL OR expires_at > now())`;
  return membership?.role ?? null;
}

export interface AuthorizeOptions {
  /** What to call the record in the 404 ("incident", "witness"…). */
  what?: string;
  /** Protected records: a refusal is written to the audit trail. */
  auditRefusal?: { action: string; targetType: string; targetId: string };
}

/**
 * Resolves the caller's role in `caseId` and checks `action`. `caseId` is null or undefined
 * when the record was not found, which answers the same 404 as a refusal.
 */
export async function authorize(
  db: Db,
  caller: Caller,
  action: CaseAction,
  caseId: string | null | undefined,
  options: AuthorizeOptions = {},
): Promise<CaseAccess> {
  const missing = notFound(options.what);
  if (!caseId) throw missing;
  const role = await caseRoleOf(db, caller.user.id, caseId);
  const isAdmin = caller.user.role === 'admin';
  if (roleMay(role, action) || (isAdmin && adminMay(action))) return { caseId, role };

  if (options.auditRefusal) {
    await audit(db, caller, { ...options.auditRefusal, caseId, outcome: 'denied', details: { permission: action } });
  }
  const visible = visibilityOf(action);
  const canSee = visible !== action && (roleMay(role, visible) || (isAdmin && adminMay(visible)));
  if (canSee) throw new AppError('forbidden', 'Your role in this case does not allow this action.');
  throw missing;
}

/** The ids of the cases where the caller holds a live membership. */
export async function memberCaseIds(db: Db, userId: string): Promise<string[]> {
  const rows = await db.caseMembership.findMany({
    where: { userId, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
    select: { caseId: true },
  });
  return rows.map((row) => row.caseId);
}
