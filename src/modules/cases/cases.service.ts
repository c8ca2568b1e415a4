// Cases: creation by an admin (who names the first lead), listing, reading, editing by a lead.
import type { Database } from '../../database/client.ts';
import { isUniqueViolation } from '../../database/errors.ts';
import type { PreloadedCase } from '../../http/authenticate.ts';
import type { Caller } from '../../http/caller.ts';
import { conflict, invalid, notFound } from '../../http/errors.ts';
import { staleVersion } from '../../http/etag.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import { audit } from '../audit/audit.ts';
import { changedFields, listRevisions, recordRevision } from '../revisions/revisions.ts';
import { authorize } from './access.ts';
import { type CaseRow, findCase, findCaseWithRole, findUserSummary, insertCase, insertMembership, listCases, updateCaseAtVersion } from './cases.repository.ts';
import { UUID } from '../../http/uuid.ts';

export type CaseStatus = 'open' | 'closed' | 'archived';

export interface CaseRecord {
  id: string;
  reference: string;
  title: string;
  description: string;
  status: CaseStatus;
  version: number;
  createdAt: string;
}

export function caseRecord(row: CaseRow): CaseRecord {
  return {
    id: row.id,
    reference: row.reference,
    title: row.title,
    description: row.description,
    status: row.status as CaseStatus,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
  };
}

/** What a revision keeps of a case: the record as the API answers it. */
function snapshotOf(record: CaseRecord): Record<string, unknown> {
  const { id, reference, title, description, status } = record;
  return { id, reference, title, description, status };
}

export function createCasesService(db: Database) {
  /** `preloaded`: the case as authentication read it with the caller's session (one query less). */
  async function loadVisible(caller: Caller, id: string, action: 'case.view' | 'case.update' | 'revisions.read', preloaded?: PreloadedCase | null) {
    const found = preloaded?.id === id ? preloaded.found : await findCaseWithRole(db, id, caller.user.id);
    await authorize(db, caller, action, found?.id, { what: 'case', role: found?.role ?? null });
    const { role: _role, ...row } = found!;
    return row;
  }

  return {
    async create(caller: Caller, input: { reference: string; title: string; description?: string; leadUserId: string }): Promise<CaseRecord> {
      try {
        return await db.$transaction(async (tx) => {
          const lead = await findUserSummary(tx, input.leadUserId);
          if (!lead || lead.disabled) throw invalid('body.leadUserId', 'is not an enabled user');
          const row = await insertCase(tx, {
            reference: input.reference,
            title: input.title,
            description: input.description ?? '',
            createdBy: caller.user.id,
          });
          await insertMembership(tx, { caseId: row.id, userId: lead.id, role: 'lead', expiresAt: null });
          const record = caseRecord(row);
          await recordRevision(tx, {
            entityType: 'case',
            entityId: row.id,
            caseId: row.id,
            version: 1,
            snapshot: snapshotOf(record),
            changes: [],
            actorId: caller.user.id,
          });
          await audit(tx, caller, {
            action: 'case.create',
            targetType: 'case',
            targetId: row.id,
            caseId: row.id,
            details: { reference: row.reference, leadUserId: lead.id },
          });
          return record;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('A case with this reference already exists.');
        throw error;
      }
    },

    async list(caller: Caller, limit: number, cursor?: string) {
      const key = decodeCursor(cursor, ['string', 'string']);
      const after = key ? cursorKey(key as [string, string]) : null;
      const rows = await listCases(db, {
        memberId: caller.user.role === 'admin' ? null : caller.user.id,
        after,
        take: limit + 1,
      });
      const page = pageOf(rows, limit, (row) => [row.createdAtKey, row.id]);
      return { items: page.items.map(caseRecord), nextCursor: page.nextCursor };
    },

    async get(caller: Caller, id: string, preloaded?: PreloadedCase | null): Promise<CaseRecord> {
      return caseRecord(await loadVisible(caller, id, 'case.view', preloaded));
    },

    async update(
      caller: Caller,
      id: string,
      patch: { title?: string; description?: string; status?: CaseStatus },
      expectedVersion: () => number,
    ): Promise<CaseRecord> {
      await loadVisible(caller, id, 'case.update');
      const expected = expectedVersion();
      return db.$transaction(async (tx) => {
        const before = await findCase(tx, id);
        if (!before) throw notFound('case');
        if (before.version !== expected) throw staleVersion();
        const beforeRecord = caseRecord(before);
        const changes = changedFields(snapshotOf(beforeRecord), snapshotOf({ ...beforeRecord, ...patch }));
        if (changes.length === 0) return beforeRecord;
        if ((await updateCaseAtVersion(tx, id, expected, patch)) === 0) throw staleVersion();
        const after = caseRecord((await findCase(tx, id))!);
        await recordRevision(tx, {
          entityType: 'case',
          entityId: id,
          caseId: id,
          version: after.version,
          snapshot: snapshotOf(after),
          changes,
          actorId: caller.user.id,
        });
        await audit(tx, caller, {
          action: 'case.update',
          targetType: 'case',
          targetId: id,
          caseId: id,
          details: {
            fields: changes.map((change) => change.field),
            version: after.version,
            ...(patch.status !== undefined && patch.status !== before.status ? { statusBefore: before.status, statusAfter: patch.status } : {}),
          },
        });
        return after;
      });
    },

    async revisions(caller: Caller, id: string, limit: number, cursor?: string) {
      await loadVisible(caller, id, 'revisions.read');
      return listRevisions(db, 'case', id, limit, cursor);
    },
  };
}

const MICROSECONDS = /^-?\d{1,17}$/;

function cursorKey([createdAt, id]: [string, string]) {
  if (!UUID.test(id) || !MICROSECONDS.test(createdAt)) {
    throw invalid('querystring.cursor', 'is not a cursor this list gave out');
  }
  return { createdAt, id };
}
