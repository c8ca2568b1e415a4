// Writes audit entries: who did what, to which record, from where, and how it ended.
// Call it with the transaction of the change it records so that both land or neither does.
import type { SqlRunner } from '../../database/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Actor } from '../../http/caller.ts';
import { insertAuditEntry, type AuditRecord } from './audit.repository.ts';

export interface AuditEvent {
  action: string;
  outcome?: 'success' | 'failure' | 'denied';
  targetType?: string;
  targetId?: string;
  caseId?: string | null;
  /** Never a secret or an identity: audit entries are read by leads and admins. */
  details?: Prisma.InputJsonObject;
  /** For events before anyone is signed in (a login): who it was about. */
  actorId?: string | null;
}

export function audit(db: SqlRunner, actor: Actor, event: AuditEvent): Promise<void> {
  return insertAuditEntry(db, auditRecord(actor, event));
}

/** The row `audit` writes, for a caller that writes it in a batch of its own (the custody sequencer). */
export function auditRecord(actor: Actor, event: AuditEvent): AuditRecord {
  return {
    actorId: event.actorId !== undefined ? event.actorId : (actor.user?.id ?? null),
    action: event.action,
    outcome: event.outcome ?? 'success',
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    caseId: event.caseId ?? null,
    requestId: actor.requestId,
    address: actor.address,
    userAgent: actor.userAgent,
    details: event.details ?? {},
  };
}
