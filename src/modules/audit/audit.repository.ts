import { runSql, type Db, type SqlRunner } from '../../database/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';

export interface AuditRecord {
  actorId: string | null;
  action: string;
  outcome: 'success' | 'failure' | 'denied';
  targetType?: string | null;
  targetId?: string | null;
  caseId?: string | null;
  requestId?: string | null;
  address?: string | null;
  userAgent?: string | null;
  details?: Prisma.InputJsonObject;
}

export function insertAuditEntry(runner: SqlRunner, record: AuditRecord): Promise<void> {
  return insertAuditEntries(runner, [record]);
}

/** Plain SQL, so that it also runs in the node-postgres transactions of the custody sequencer. */
export async function insertAuditEntries(runner: SqlRunner, records: AuditRecord[]): Promise<void> {
  const column = <K extends keyof AuditRecord>(key: K) => records.map((record) => record[key] ?? null);
  await runSql(
    runner,
    `INSERT INTO audit_entries (actor_id, action, outcome, target_type, target_id, case_id, request_id, address, user_agent, details)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::text[], $10::jsonb[])`,
    [
      column('actorId'),
      column('action'),
      column('outcome'),
      column('targetType'),
      column('targetId'),
      column('caseId'),
      column('requestId'),
      column('address'),
      column('userAgent'),
      records.map((record) => JSON.stringify(record.details ?? {})),
    ],
  );
}

export interface AuditFilter {
  caseId?: string;
  actorId?: string;
  action?: string;
  outcome?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
  beforeId?: bigint;
}

export function findAuditEntries(db: Db, filter: AuditFilter, take: number) {
  return db.auditEntry.findMany({
    where: {
      caseId: filter.caseId,
      actorId: filter.actorId,
      action: filter.action,
      outcome: filter.outcome,
      targetId: filter.targetId,
      at: { gte: filter.from, lt: filter.to },
      id: filter.beforeId === undefined ? undefined : { lt: filter.beforeId },
    },
    orderBy: { id: 'desc' },
    take,
  });
}
