// Every version of a mutable record: the state after each change, who made it, when, and which
// fields changed. Rows are append-only (a trigger refuses UPDATE and DELETE).
import { Type } from 'typebox';
import type { Db } from '../../database/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';

export type RevisedEntity = 'case' | 'incident' | 'witness' | 'statement' | 'evidence' | 'user';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

/** The fields whose values differ between two versions (compared as JSON). */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): FieldChange[] {
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changes: FieldChange[] = [];
  for (const field of fields) {
    if (field === 'version' || field === 'updatedAt') continue;
    if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) {
      changes.push({ field, from: before[field] ?? null, to: after[field] ?? null });
    }
  }
  return changes;
}

export async function recordRevision(
  db: Db,
  revision: {
    entityType: RevisedEntity;
    entityId: string;
    caseId: string | null;
    version: number;
    snapshot: Record<string, unknown>;
    changes: FieldChange[];
    /** null when no signed-in person made the change (the command line). */
    actorId: string | null;
  },
): Promise<void> {
  await db.revision.create({
    data: {
      ...revision,
      snapshot: JSON.parse(JSON.stringify(revision.snapshot)) as Prisma.InputJsonObject,
      changes: JSON.parse(JSON.stringify(revision.changes)) as Prisma.InputJsonArray,
    },
  });
}

export const RevisionSchema = Type.Object({
  version: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  by: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  changes: Type.Array(Type.Object({ field: Type.String(), from: Type.Unknown(), to: Type.Unknown() })),
  snapshot: Type.Record(Type.String(), Type.Unknown()),
});

/** Oldest first, as a history reads. */
export async function listRevisions(db: Db, entityType: RevisedEntity, entityId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, ['number']);
  const rows = await db.revision.findMany({
    where: { entityType, entityId, ...(after ? { version: { gt: after[0] as number } } : {}) },
    orderBy: { version: 'asc' },
    take: limit + 1,
  });
  const page = pageOf(rows, limit, (row) => [row.version]);
  return {
    items: page.items.map((row) => ({
      version: row.version,
      at: row.at.toISOString(),
      by: row.actorId,
      changes: row.changes as unknown as FieldChange[],
      snapshot: row.snapshot as Record<string, unknown>,
    })),
    nextCursor: page.nextCursor,
  };
}
