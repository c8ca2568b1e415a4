import type { Db } from '../../database/client.ts';
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

export async function insertAuditEntry(db: Db, record: AuditRecord): Promise<void> {
  await db.auditEntry.create({ data: { ...record, details: record.details ?? {} } });
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
