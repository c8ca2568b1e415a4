// Reading, editing, retracting evidence and serving its bytes. Permissions through authorize();
// every change in one transaction with its revision, custody entry and audit entry.
import type { Readable } from 'node:stream';
import type { Caller } from '../../http/caller.ts';
import { AppError, conflict, invalid } from '../../http/errors.ts';
import { staleVersion } from '../../http/etag.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import { BlobNotFoundError } from '../../storage/index.ts';
import { audit } from '../audit/audit.ts';
import { authorize } from '../cases/access.ts';
import { afterCommitIntegrate, appendCustodyEntry, appendCustodyEvent } from '../custody/custody.append.ts';
import { changedFields, listRevisions, recordRevision } from '../revisions/revisions.ts';
import type { EvidenceDeps } from './evidence.intake.ts';
import { validateEvidencePatch } from './evidence.metadata.ts';
import { parseRange } from './evidence.range.ts';
import { type EvidenceRow, duplicatesOf, findEvidence, listEvidence, updateEvidenceAtVersion } from './evidence.repository.ts';
import type { EvidenceListQuery, EvidenceView } from './evidence.schemas.ts';
import { revisionSnapshot, toEvidenceView } from './evidence.view.ts';

const TRANSACTION = { maxWait: 10_000, timeout: 30_000 };

async function viewOf(deps: EvidenceDeps, row: EvidenceRow): Promise<EvidenceView> {
  const duplicates = await duplicatesOf(deps.db, [row]);
  return toEvidenceView(row, duplicates.get(row.id) ?? []);
}

/** Loads an item the caller may act on with `action` (404 when absent or invisible, 403 when visible only). */
async function loadFor(deps: EvidenceDeps, caller: Caller, id: string, action: Parameters<typeof authorize>[2], auditRefusal = false): Promise<EvidenceRow> {
  const row = await findEvidence(deps.db, id);
  await authorize(deps.db, caller, action, row?.caseId, {
    what: 'evidence',
    ...(auditRefusal ? { auditRefusal: { action: `evidence.${action.split('.')[1]}`, targetType: 'evidence', targetId: id } } : {}),
  });
  return row!;
}

export async function getEvidence(deps: EvidenceDeps, caller: Caller, id: string): Promise<EvidenceView> {
  return viewOf(deps, await loadFor(deps, caller, id, 'evidence.read'));
}

export async function listCaseEvidence(deps: EvidenceDeps, caller: Caller, caseId: string, query: EvidenceListQuery) {
  await authorize(deps.db, caller, 'evidence.read', caseId, { what: 'case' });
  const limit = query.limit ?? 50;
  const after = decodeCursor(query.cursor, ['string', 'string']);
  let before: { createdAt: Date; id: string } | undefined;
  if (after) {
    const createdAt = new Date(after[0] as string);
    if (Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/.test(after[1] as string)) throw invalid('querystring.cursor', 'is not a cursor this list gave out');
    before = { createdAt, id: after[1] as string };
  }
  const rows = await listEvidence(
    deps.db,
    { caseId, incidentId: query.incidentId?.toLowerCase(), reviewStatus: query.reviewStatus, mediaType: query.mediaType, before },
    limit + 1,
  );
  const page = pageOf(rows, limit, (row) => [row.createdAt.toISOString(), row.id]);
  const duplicates = await duplicatesOf(deps.db, page.items);
  return { items: page.items.map((row) => toEvidenceView(row, duplicates.get(row.id) ?? [])), nextCursor: page.nextCursor };
}

export async function updateEvidence(deps: EvidenceDeps, caller: Caller, id: string, expectedVersion: number, body: unknown): Promise<EvidenceView> {
  const row = await loadFor(deps, caller, id, 'evidence.write');
  if (row.version !== expectedVersion) throw staleVersion();
  if (row.retractedAt) throw conflict('This evidence was retracted: it can no longer be edited.');
  const patch = await validateEvidencePatch(deps.db, row.caseId, body);

  const updated = await deps.db.$transaction(async (tx) => {
    const before = toEvidenceView(row, []);
    const next = await updateEvidenceAtVersion(tx, id, expectedVersion, {
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.incidentIds !== undefined ? { incidentIds: patch.incidentIds } : {}),
      ...(patch.source !== undefined ? { source: patch.source } : {}),
      ...(patch.acquisition !== undefined ? { acquisition: patch.acquisition } : {}),
      ...(patch.collectedAt !== undefined ? { collectedAt: patch.collectedAt } : {}),
      ...(patch.collectedBy !== undefined ? { collectedBy: patch.collectedBy } : {}),
    });
    if (!next) throw staleVersion();
    const after = toEvidenceView(next, []);
    const changes = changedFields(revisionSnapshot(before), revisionSnapshot(after));
    const fields = changes.map((change) => change.field);
    await recordRevision(tx, { entityType: 'evidence', entityId: id, caseId: row.caseId, version: next.version, snapshot: revisionSnapshot(after), changes, actorId: caller.user.id });
    await appendCustodyEntry(tx, { caseId: row.caseId, evidenceId: id, evidenceSha256: row.sha256, action: 'metadata_changed', actorId: caller.user.id, details: { fields } });
    await audit(tx, caller, { action: 'evidence.update', targetType: 'evidence', targetId: id, caseId: row.caseId, details: { fields } });
    return next;
  }, TRANSACTION);
  await afterCommitIntegrate(deps.db, row.caseId, deps.log);
  return viewOf(deps, updated);
}

export async function retractEvidence(deps: EvidenceDeps, caller: Caller, id: string, expectedVersion: number, reason: string): Promise<EvidenceView> {
  const row = await loadFor(deps, caller, id, 'evidence.write');
  if (row.version !== expectedVersion) throw staleVersion();
  if (row.retractedAt) throw conflict('This evidence is already retracted.');

  const updated = await deps.db.$transaction(async (tx) => {
    const next = await updateEvidenceAtVersion(tx, id, expectedVersion, { retractedAt: new Date(), retractedBy: caller.user.id, retractionReason: reason });
    if (!next) throw staleVersion();
    const after = toEvidenceView(next, []);
    const changes = changedFields(revisionSnapshot(toEvidenceView(row, [])), revisionSnapshot(after));
    await recordRevision(tx, { entityType: 'evidence', entityId: id, caseId: row.caseId, version: next.version, snapshot: revisionSnapshot(after), changes, actorId: caller.user.id });
    await appendCustodyEntry(tx, { caseId: row.caseId, evidenceId: id, evidenceSha256: row.sha256, action: 'retracted', actorId: caller.user.id, details: { reason } });
    await audit(tx, caller, { action: 'evidence.retract', targetType: 'evidence', targetId: id, caseId: row.caseId });
    return next;
  }, TRANSACTION);
  await afterCommitIntegrate(deps.db, row.caseId, deps.log);
  return viewOf(deps, updated);
}

export async function evidenceRevisions(deps: EvidenceDeps, caller: Caller, id: string, limit: number, cursor?: string) {
  await loadFor(deps, caller, id, 'revisions.read');
  return listRevisions(deps.db, 'evidence', id, limit, cursor);
}

export interface ContentToServe {
  evidence: EvidenceRow;
  sizeBytes: number;
  /** The range served, or null for the whole content. */
  range: { start: number; end: number } | null;
  stream: Readable;
}

/**
 * Opens the bytes of an item for a caller allowed to read content, and records the access in the
 * custody log before anything is sent (the caller sends `stream` only after this resolves).
 * Refusals (404/403, 416) are audit entries only.
 */
export async function openEvidenceContent(deps: EvidenceDeps, caller: Caller, id: string, rangeHeader: string | undefined): Promise<ContentToServe> {
  const row = await loadFor(deps, caller, id, 'evidence.content', true);
  const sizeBytes = Number(row.sizeBytes);
  const requested = parseRange(rangeHeader, sizeBytes);
  if (requested.kind === 'unsatisfiable') {
    await audit(deps.db, caller, {
      action: 'evidence.content',
      outcome: 'failure',
      targetType: 'evidence',
      targetId: id,
      caseId: row.caseId,
      details: { reason: 'range_not_satisfiable' },
    });
    throw new AppError('range_not_satisfiable', `The content holds ${sizeBytes} bytes.`, { headers: { 'content-range': `bytes */${sizeBytes}` } });
  }
  const range = requested.kind === 'range' ? { start: requested.start, end: requested.end } : null;

  let stream: Readable;
  try {
    stream = await deps.store.open(row.sha256, range ?? undefined);
  } catch (error) {
    if (error instanceof BlobNotFoundError) {
      deps.log?.error({ evidenceId: id, sha256: row.sha256 }, 'the stored bytes of an evidence item are missing');
      throw new AppError('service_unavailable', 'The stored bytes of this item cannot be read.');
    }
    throw error;
  }
  try {
    // In the log, with its seq, before the first byte leaves.
    await appendCustodyEvent(deps.db, {
      caseId: row.caseId,
      evidenceId: id,
      evidenceSha256: row.sha256,
      action: 'accessed',
      actorId: caller.user.id,
      details: { range: range ? `bytes=${range.start}-${range.end}` : null },
    });
  } catch (error) {
    stream.destroy();
    throw error;
  }
  return { evidence: row, sizeBytes, range, stream };
}
