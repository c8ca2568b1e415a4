// Reading the audit trail: everything for admins, one case's entries for its leads.
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { invalid } from '../../http/errors.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import { authorize } from '../cases/access.ts';
import { findCase } from '../cases/cases.repository.ts';
import { type AuditFilter, findAuditEntries } from './audit.repository.ts';

export interface AuditQuery {
  caseId?: string;
  actorId?: string;
  action?: string;
  outcome?: 'success' | 'failure' | 'denied';
  targetId?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export interface AuditEntryRecord {
  id: string;
  at: string;
  actorId: string | null;
  action: string;
  outcome: 'success' | 'failure' | 'denied';
  targetType: string | null;
  targetId: string | null;
  caseId: string | null;
  requestId: string | null;
  address: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

type AuditRow = Awaited<ReturnType<typeof findAuditEntries>>[number];

function entryRecord(row: AuditRow): AuditEntryRecord {
  return {
    id: row.id.toString(),
    at: row.at.toISOString(),
    actorId: row.actorId,
    action: row.action,
    outcome: row.outcome as AuditEntryRecord['outcome'],
    targetType: row.targetType,
    targetId: row.targetId,
    caseId: row.caseId,
    requestId: row.requestId,
    address: row.address,
    userAgent: row.userAgent,
    details: (row.details ?? {}) as Record<string, unknown>,
  };
}

// The largest bigint PostgreSQL holds has 19 digits.
const ENTRY_ID = /^[1-9]\d{0,18}$/;

export function createAuditService(db: Database) {
  async function page(filter: Omit<AuditFilter, 'from' | 'to' | 'beforeId'>, query: AuditQuery) {
    const limit = query.limit ?? 50;
    const key = decodeCursor(query.cursor, ['string']);
    let beforeId: bigint | undefined;
    if (key) {
      const text = key[0] as string;
      if (!ENTRY_ID.test(text) || BigInt(text) > 9223372036854775807n) throw invalid('querystring.cursor', 'is not a cursor this list gave out');
      beforeId = BigInt(text);
    }
    const from = query.from === undefined ? undefined : new Date(query.from);
    const to = query.to === undefined ? undefined : new Date(query.to);
    if (from && to && from > to) throw invalid('querystring.from', 'is after `to`');
    const rows = await findAuditEntries(db, { ...filter, from, to, beforeId }, limit + 1);
    const result = pageOf(rows, limit, (row) => [row.id.toString()]);
    return { items: result.items.map(entryRecord), nextCursor: result.nextCursor };
  }

  function filterOf(query: AuditQuery) {
    return { actorId: query.actorId, action: query.action, outcome: query.outcome, targetId: query.targetId };
  }

  return {
    /** The whole trail: the route is admin-only. */
    all(query: AuditQuery) {
      return page({ ...filterOf(query), caseId: query.caseId }, query);
    },

    async ofCase(caller: Caller, caseId: string, query: AuditQuery) {
      const found = await findCase(db, caseId);
      await authorize(db, caller, 'audit.read', found?.id, { what: 'case' });
      return page({ ...filterOf(query), caseId }, query);
    },
  };
}
