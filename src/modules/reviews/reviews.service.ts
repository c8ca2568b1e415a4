// Four-eyes review of evidence. The stored bytes are re-hashed first (streaming); the result is
// part of the review and of its `reviewed` custody entry. A mismatch marks the item
// `integrity_failed`, which no later review clears: once the bytes were seen to differ from what
// was collected, that stays on the record.
import type { Caller } from '../../http/caller.ts';
import { AppError, forbidden, invalid } from '../../http/errors.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import { BlobNotFoundError, hashStoredBlob } from '../../storage/index.ts';
import { audit } from '../audit/audit.ts';
import { authorize } from '../cases/access.ts';
import { afterCommitIntegrate, appendCustodyEntry } from '../custody/custody.append.ts';
import type { EvidenceDeps } from '../evidence/evidence.intake.ts';
import { findEvidence, setReviewStatus } from '../evidence/evidence.repository.ts';
import { hasIntegrityFailure, insertReview, listReviews, type ReviewRow } from './reviews.repository.ts';
import type { ReviewBody, ReviewView } from './reviews.schemas.ts';

const TRANSACTION = { maxWait: 10_000, timeout: 30_000 };

export function toReviewView(row: ReviewRow): ReviewView {
  return {
    id: row.id,
    evidenceId: row.evidenceId,
    caseId: row.caseId,
    reviewerId: row.reviewerId,
    decision: row.decision as ReviewView['decision'],
    notes: row.notes,
    checks: row.checks as ReviewView['checks'],
    integrity: { sha256: row.integritySha256, matches: row.integrityMatches },
    createdAt: row.createdAt.toISOString(),
  };
}

export async function createReview(deps: EvidenceDeps, caller: Caller, evidenceId: string, body: ReviewBody): Promise<ReviewView> {
  const evidence = await findEvidence(deps.db, evidenceId);
  const { caseId } = await authorize(deps.db, caller, 'review.create', evidence?.caseId, { what: 'evidence' });
  if (evidence!.submittedBy === caller.user.id) {
    await audit(deps.db, caller, { action: 'evidence.review', outcome: 'denied', targetType: 'evidence', targetId: evidenceId, caseId, details: { reason: 'four_eyes' } });
    throw forbidden('You submitted this evidence: someone else must review it.');
  }

  let integrity: { sha256: string; matches: boolean };
  try {
    const actual = await hashStoredBlob(deps.store, evidence!.sha256);
    integrity = { sha256: actual.sha256, matches: actual.sha256 === evidence!.sha256 && actual.sizeBytes === Number(evidence!.sizeBytes) };
  } catch (error) {
    if (!(error instanceof BlobNotFoundError)) throw error;
    deps.log?.error({ evidenceId, sha256: evidence!.sha256 }, 'the stored bytes of an evidence item are missing');
    await audit(deps.db, caller, { action: 'evidence.integrity_failed', outcome: 'failure', targetType: 'evidence', targetId: evidenceId, caseId, details: { reason: 'bytes_missing' } });
    throw new AppError('service_unavailable', 'The stored bytes of this item cannot be read: no review was recorded.');
  }

  const review = await deps.db.$transaction(async (tx) => {
    const row = await insertReview(tx, {
      evidenceId,
      caseId,
      reviewerId: caller.user.id,
      decision: body.decision,
      notes: body.notes,
      checks: body.checks.map((check) => ({ name: check.name, result: check.result, ...(check.note !== undefined ? { note: check.note } : {}) })),
      integritySha256: integrity.sha256,
      integrityMatches: integrity.matches,
    });
    const failed = !integrity.matches || (await hasIntegrityFailure(tx, evidenceId));
    await setReviewStatus(tx, evidenceId, failed ? 'integrity_failed' : body.decision);
    await appendCustodyEntry(tx, {
      caseId,
      evidenceId,
      evidenceSha256: evidence!.sha256,
      action: 'reviewed',
      actorId: caller.user.id,
      details: { reviewId: row.id, decision: body.decision, integrity },
    });
    await audit(tx, caller, { action: 'evidence.review', targetType: 'evidence', targetId: evidenceId, caseId, details: { reviewId: row.id, decision: body.decision, integrityMatches: integrity.matches } });
    if (!integrity.matches) {
      await audit(tx, caller, {
        action: 'evidence.integrity_failed',
        outcome: 'failure',
        targetType: 'evidence',
        targetId: evidenceId,
        caseId,
        details: { reviewId: row.id, expectedSha256: evidence!.sha256, actualSha256: integrity.sha256 },
      });
    }
    return row;
  }, TRANSACTION);
  await afterCommitIntegrate(deps.db, caseId, deps.log);
  return toReviewView(review);
}

export async function listEvidenceReviews(deps: EvidenceDeps, caller: Caller, evidenceId: string, limit: number, cursor?: string) {
  const evidence = await findEvidence(deps.db, evidenceId);
  await authorize(deps.db, caller, 'review.read', evidence?.caseId, { what: 'evidence' });
  const after = decodeCursor(cursor, ['string', 'string']);
  let before: { createdAt: Date; id: string } | undefined;
  if (after) {
    const createdAt = new Date(after[0] as string);
    if (Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/.test(after[1] as string)) throw invalid('querystring.cursor', 'is not a cursor this list gave out');
    before = { createdAt, id: after[1] as string };
  }
  const rows = await listReviews(deps.db, evidenceId, limit + 1, before);
  const page = pageOf(rows, limit, (row) => [row.createdAt.toISOString(), row.id]);
  return { items: page.items.map(toReviewView), nextCursor: page.nextCursor };
}
