// Export rows, and the reads an export job needs to resolve its scope. Every write by a job is
// fenced by its attempt number: an older attempt that is still running somewhere (pg-boss gave
// up on it and retried) changes nothing once a newer one has taken the row.
import type { Db, Transaction } from '../../database/client.ts';
import type { Export as ExportRow, Prisma } from '../../generated/prisma/client.ts';

export type { ExportRow };

export type ExportStatus = 'queued' | 'running' | 'done' | 'failed';

export function insertExport(
  tx: Transaction,
  row: { id: string; caseId: string; createdBy: string; scope: Prisma.InputJsonObject; redaction: string },
): Promise<ExportRow> {
  return tx.export.create({ data: { ...row, createdAt: new Date() } });
}

export function findExport(db: Db, id: string): Promise<ExportRow | null> {
  return db.export.findUnique({ where: { id } });
}

/**
 * Takes the row for a new attempt: a queued export, or a running one whose last attempt stopped
 * beating (a crashed worker). Answers the row with its new attempt number, or null.
 */
export async function claimExport(db: Db, id: string, staleSeconds: number): Promise<ExportRow | null> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    UPDATE exports
       SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, now()),
           heartbeat_at = now(), progress = 0, error = NULL
     WHERE id = ${id}::uuid
       AND (status = 'queued' OR (status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => ${staleSeconds}))))
    RETURNING id::text`;
  return rows.length === 1 ? findExport(db, id) : null;
}

/** Updates a running attempt's row; false when the attempt no longer owns it. */
export async function updateAttempt(db: Db, id: string, attempt: number, data: Prisma.ExportUpdateManyMutationInput): Promise<boolean> {
  const { count } = await db.export.updateMany({ where: { id, attempts: attempt, status: 'running' }, data });
  return count === 1;
}

/** Ids among `ids` that are incidents (or evidence) of the case. */
export async function incidentsOfCase(db: Db, caseId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.incident.findMany({ where: { caseId, id: { in: ids } }, select: { id: true } });
  return new Set(rows.map((r) => r.id));
}

export async function evidenceOfCase(db: Db, caseId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.evidence.findMany({ where: { caseId, id: { in: ids } }, select: { id: true } });
  return new Set(rows.map((r) => r.id));
}

/** Evidence of the case linked to any of `incidentIds`. */
export async function evidenceLinkedTo(db: Db, caseId: string, incidentIds: string[]): Promise<string[]> {
  if (incidentIds.length === 0) return [];
  const rows = await db.evidence.findMany({ where: { caseId, incidentIds: { hasSome: incidentIds } }, select: { id: true } });
  return rows.map((r) => r.id);
}

/** Statements of the case linked to any of `incidentIds`. */
export async function statementsLinkedTo(db: Db, caseId: string, incidentIds: string[]): Promise<string[]> {
  if (incidentIds.length === 0) return [];
  const rows = await db.statement.findMany({
    where: { caseId, incidents: { some: { incidentId: { in: incidentIds } } } },
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

export async function caseRecordIds(db: Db, caseId: string) {
  const [incidents, evidence, statements] = await Promise.all([
    db.incident.findMany({ where: { caseId }, select: { id: true } }),
    db.evidence.findMany({ where: { caseId }, select: { id: true } }),
    db.statement.findMany({ where: { caseId }, select: { id: true } }),
  ]);
  return { incidentIds: incidents.map((r) => r.id), evidenceIds: evidence.map((r) => r.id), statementIds: statements.map((r) => r.id) };
}
