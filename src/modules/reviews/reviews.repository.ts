import type { Db, Transaction } from '../../database/client.ts';
import type { Prisma, Review as ReviewRow } from '../../generated/prisma/client.ts';

export type { ReviewRow };

export function insertReview(
  tx: Transaction,
  review: { evidenceId: string; caseId: string; reviewerId: string; decision: string; notes: string; checks: Prisma.InputJsonArray; integritySha256: string; integrityMatches: boolean },
): Promise<ReviewRow> {
  // Millisecond clock, as the keyset cursors carry JavaScript dates.
  return tx.review.create({ data: { ...review, createdAt: new Date() } });
}

/** Newest first. */
export function listReviews(db: Db, evidenceId: string, take: number, before?: { createdAt: Date; id: string }): Promise<ReviewRow[]> {
  return db.review.findMany({
    where: {
      evidenceId,
      ...(before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {}),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take,
  });
}

export async function hasIntegrityFailure(db: Db, evidenceId: string): Promise<boolean> {
  return (await db.review.count({ where: { evidenceId, integrityMatches: false } })) > 0;
}
