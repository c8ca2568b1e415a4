// Statements and the incidents they speak of.
import type { Db } from '../../database/client.ts';
import { Prisma } from '../../generated/prisma/client.ts';

const withIncidents = { incidents: { select: { incidentId: true }, orderBy: { incidentId: 'asc' } } } as const;

export type StatementRow = Prisma.StatementGetPayload<{ include: typeof withIncidents }>;

export function findStatement(db: Db, id: string): Promise<StatementRow | null> {
  return db.statement.findUnique({ where: { id }, include: withIncidents });
}

/** Newest first; the key is created_at to the microsecond (as text) and the id. */
export async function listStatements(db: Db, caseId: string, limit: number, after: { at: string; id: string } | null) {
  const next = after ? Prisma.sql`AND (created_at, id) < ((${after.at}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)` : Prisma.empty;
  const keys = await db.$queryRaw<{ id: string; at: string }[]>`
    SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at FROM statements
    WHERE case_id = ${caseId}::uuid ${next}
    ORDER BY created_at DESC, id DESC
    LIMIT ${limit + 1}`;
  const rows = await db.statement.findMany({ where: { id: { in: keys.map((k) => k.id) } }, include: withIncidents });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return keys.map((key) => ({ key, row: byId.get(key.id)! }));
}

export async function insertStatement(tx: Db, data: Prisma.StatementUncheckedCreateInput, incidentIds: string[]): Promise<StatementRow> {
  const row = await tx.statement.create({ data });
  if (incidentIds.length) {
    await tx.statementIncident.createMany({ data: incidentIds.map((incidentId) => ({ statementId: row.id, incidentId, caseId: row.caseId })) });
  }
  return (await findStatement(tx, row.id))!;
}

export async function updateStatement(
  tx: Db,
  id: string,
  version: number,
  data: Prisma.StatementUncheckedUpdateManyInput,
  incidentIds?: string[],
): Promise<StatementRow | null> {
  const { count } = await tx.statement.updateMany({ where: { id, version }, data: { ...data, version: { increment: 1 }, updatedAt: new Date() } });
  if (count === 0) return null;
  if (incidentIds) {
    const row = await tx.statement.findUniqueOrThrow({ where: { id }, select: { caseId: true } });
    await tx.statementIncident.deleteMany({ where: { statementId: id } });
    if (incidentIds.length) {
      await tx.statementIncident.createMany({ data: incidentIds.map((incidentId) => ({ statementId: id, incidentId, caseId: row.caseId })) });
    }
  }
  return findStatement(tx, id);
}

/** The ids among `ids` that are incidents of `caseId`. */
export async function incidentsOfCase(db: Db, caseId: string, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await db.incident.findMany({ where: { caseId, id: { in: ids } }, select: { id: true } });
  return new Set(rows.map((row) => row.id));
}

export async function witnessCaseOf(db: Db, witnessId: string): Promise<string | null> {
  const row = await db.witness.findUnique({ where: { id: witnessId }, select: { caseId: true } });
  return row?.caseId ?? null;
}
