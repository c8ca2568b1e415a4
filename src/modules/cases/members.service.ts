// Case memberships: admins and leads add, change and remove members. A case always keeps at
// least one live lead; the check runs under a lock on the case's membership rows so that two
// concurrent changes cannot each remove "the other" lead.
import type { Database, Transaction } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { conflict, invalid, notFound } from '../../http/errors.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import { audit } from '../audit/audit.ts';
import { authorize } from './access.ts';
import type { CaseRole } from './case-permissions.ts';
import {
  type LockedMembership,
  type MembershipRow,
  deleteMembership,
  findCase,
  findUserSummary,
  listMemberships,
  lockMemberships,
  upsertMembership,
} from './cases.repository.ts';
import { UUID } from '../../http/uuid.ts';

export interface MembershipRecord {
  caseId: string;
  userId: string;
  role: CaseRole;
  expiresAt: string | null;
  user: { id: string; email: string; displayName: string };
}

function membershipRecord(row: MembershipRow): MembershipRecord {
  return {
    caseId: row.caseId,
    userId: row.userId,
    role: row.role as CaseRole,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    user: { id: row.user.id, email: row.user.email, displayName: row.user.displayName },
  };
}

function isLiveLead(membership: LockedMembership, now: Date): boolean {
  return membership.role === 'lead' && (membership.expiresAt === null || membership.expiresAt > now);
}

const LAST_LEAD = 'This would leave the case without a live lead: name another lead first.';

export function createMembersService(db: Database) {
  /** Checks the permission, then again under the lock: the caller may have lost it meanwhile. */
  async function lockedCase(tx: Transaction, caller: Caller, caseId: string): Promise<LockedMembership[]> {
    const memberships = await lockMemberships(tx, caseId);
    await authorize(tx, caller, 'members.manage', caseId, { what: 'case' });
    return memberships;
  }

  async function checkCase(caller: Caller, caseId: string, action: 'members.manage' | 'members.read') {
    const found = await findCase(db, caseId);
    await authorize(db, caller, action, found?.id, { what: 'case' });
  }

  return {
    async put(caller: Caller, caseId: string, userId: string, input: { role: CaseRole; expiresAt?: string | null }): Promise<MembershipRecord> {
      await checkCase(caller, caseId, 'members.manage');
      const now = new Date();
      const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
      if (expiresAt && expiresAt <= now) throw invalid('body.expiresAt', 'must be in the future');
      const user = await findUserSummary(db, userId);
      if (!user) throw notFound('user');

      return db.$transaction(async (tx) => {
        const memberships = await lockedCase(tx, caller, caseId);
        const before = memberships.find((m) => m.userId === userId) ?? null;
        const after: LockedMembership = { userId, role: input.role, expiresAt };
        const leadsAfter = memberships.filter((m) => m.userId !== userId).concat(after).filter((m) => isLiveLead(m, now));
        if (before && isLiveLead(before, now) && leadsAfter.length === 0) throw conflict(LAST_LEAD);

        const row = await upsertMembership(tx, { caseId, userId, role: input.role, expiresAt });
        await audit(tx, caller, {
          action: 'member.put',
          targetType: 'user',
          targetId: userId,
          caseId,
          details: {
            roleBefore: before?.role ?? null,
            roleAfter: input.role,
            expiresAtBefore: before?.expiresAt?.toISOString() ?? null,
            expiresAtAfter: expiresAt?.toISOString() ?? null,
          },
        });
        return membershipRecord(row);
      });
    },

    async remove(caller: Caller, caseId: string, userId: string): Promise<void> {
      await checkCase(caller, caseId, 'members.manage');
      await db.$transaction(async (tx) => {
        const memberships = await lockedCase(tx, caller, caseId);
        const before = memberships.find((m) => m.userId === userId);
        if (!before) throw notFound('member');
        const now = new Date();
        const others = memberships.filter((m) => m.userId !== userId && isLiveLead(m, now));
        if (isLiveLead(before, now) && others.length === 0) throw conflict(LAST_LEAD);

        await deleteMembership(tx, caseId, userId);
        await audit(tx, caller, {
          action: 'member.remove',
          targetType: 'user',
          targetId: userId,
          caseId,
          details: { roleBefore: before.role, roleAfter: null, expiresAtBefore: before.expiresAt?.toISOString() ?? null },
        });
      });
    },

    async list(caller: Caller, caseId: string, limit: number, cursor?: string) {
      await checkCase(caller, caseId, 'members.read');
      const key = decodeCursor(cursor, ['string']);
      const afterUserId = key ? (key[0] as string) : null;
      if (afterUserId !== null && !UUID.test(afterUserId)) throw invalid('querystring.cursor', 'is not a cursor this list gave out');
      const rows = await listMemberships(db, caseId, afterUserId, limit + 1);
      const page = pageOf(rows, limit, (row) => [row.userId]);
      return { items: page.items.map(membershipRecord), nextCursor: page.nextCursor };
    },
  };
}
