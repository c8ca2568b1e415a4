// The one answer to "may this caller do this action on this case". Everything that touches a
// case's records asks here. A record the caller may not see is the same 404 as a missing one.
import { hotPath, runSql, type Db } from '../../database/client.ts';
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
  // Every case request asks this: plain SQL on the pool (hotPath).
  const [membership] = await runSql<{ role: CaseRole }>(
    hotPath(db),
    `SELECT role FROM case_memberships
      WHERE case_id = $1::uuid AND user_id = $2::uuid AND (expires_at IS NULL OR expires_at > now())`,
    [caseId, userId],
    'case-role',
  );
  return membership?.role ?? null;
}

export interface AuthorizeOptions {
  /** What to call the record in the 404 ("incident", "witness"…). */
  what?: string;
  /** Protected records: a refusal is written to the audit trail. */
  auditRefusal?: { action: string; targetType: string; targetId: string };
  /** The caller's role in the case when the caller read it with the record (saves a query). */
  role?: CaseRole | null;
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
  if (!caseId) throw notFound(options.what);
  const role = options.role !== undefined ? options.role : await caseRoleOf(db, caller.user.id, caseId);
  const isAdmin = caller.user.role === 'admin';
  if (roleMay(role, action) || (isAdmin && adminMay(action))) return { caseId, role };

  if (options.auditRefusal) {
    await audit(db, caller, { ...options.auditRefusal, caseId, outcome: 'denied', details: { permission: action } });
  }
  const visible = visibilityOf(action);
  const canSee = visible !== action && (roleMay(role, visible) || (isAdmin && adminMay(visible)));
  if (canSee) throw new AppError('forbidden', 'Your role in this case does not allow this action.');
  throw notFound(options.what);
}
