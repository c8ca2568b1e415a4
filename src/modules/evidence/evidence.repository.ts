// Evidence rows, the blobs behind them, and the reads the evidence service needs.
import type { Db, Transaction } from '../../database/client.ts';
import type { Evidence as EvidenceRow, Prisma } from '../../generated/prisma/client.ts';

export type { EvidenceRow };

export interface NewEvidenceRow {
  caseId: string;
  sha256: string;
  sizeBytes: number;
  mediaType: string;
  originalFilename: string;
  title: string;
  description: string;
  incidentIds: string[];
  source: Prisma.InputJsonObject;
  acquisition: string;
  collectedAt: Date;
  collectedBy: string;
  submittedBy: string;
  capturedAt: Date | null;
  captureLat: number | null;
  captureLon: number | null;
  captureMetadata: Prisma.InputJsonObject;
}

/** Serialises everything that creates or removes the blob of `sha256` (commit, orphan clean-up). */
export async function lockBlob(tx: Transaction, sha256: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${'blob:' + sha256}, 0))`;
}

export async function insertBlobIfAbsent(tx: Transaction, blob: { sha256: string; sizeBytes: number; storageKey: string }): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO blobs (sha256, size_bytes, storage_key) VALUES (${blob.sha256}, ${blob.sizeBytes}, ${blob.storageKey})
    ON CONFLICT (sha256) DO NOTHING`;
}

export async function blobIsRecorded(db: Db, sha256: string): Promise<boolean> {
  const rows = await db.$queryRaw<{ one: number }[]>`SELECT 1 AS one FROM blobs WHERE sha256 = ${sha256}`;
  return rows.length > 0;
}

export function insertEvidence(tx: Transaction, row: NewEvidenceRow): Promise<EvidenceRow> {
  // created_at from the application clock (millisecond precision) so that keyset cursors, which
  // carry JavaScript dates, compare exactly.
  const now = new Date();
  return tx.evidence.create({ data: { ...row, sizeBytes: BigInt(row.sizeBytes), createdAt: now, updatedAt: now } });
}

export function findEvidence(db: Db, id: string): Promise<EvidenceRow | null> {
  return db.evidence.findUnique({ where: { id } });
}

/** Other items of the same case holding the same bytes, oldest first, for each of `rows`. */
export async function duplicatesOf(db: Db, rows: Pick<EvidenceRow, 'id' | 'caseId' | 'sha256'>[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>(rows.map((row) => [row.id, []]));
  if (rows.length === 0) return result;
  const caseIds = [...new Set(rows.map((row) => row.caseId))];
  const hashes = [...new Set(rows.map((row) => row.sha256))];
  const others = await db.evidence.findMany({
    where: { caseId: { in: caseIds }, sha256: { in: hashes } },
    select: { id: true, caseId: true, sha256: true },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  for (const row of rows) {
    result.set(
      row.id,
      others.filter((other) => other.caseId === row.caseId && other.sha256 === row.sha256 && other.id !== row.id).map((other) => other.id),
    );
  }
  return result;
}

export interface EvidenceFilter {
  caseId: string;
  incidentId?: string;
  reviewStatus?: string;
  mediaType?: string;
  before?: { createdAt: Date; id: string };
}

export function listEvidence(db: Db, filter: EvidenceFilter, take: number): Promise<EvidenceRow[]> {
  const where: Prisma.EvidenceWhereInput = { caseId: filter.caseId };
  if (filter.incidentId) where.incidentIds = { has: filter.incidentId };
  if (filter.reviewStatus) where.reviewStatus = filter.reviewStatus;
  if (filter.mediaType) {
    where.mediaType = filter.mediaType.endsWith('/*') ? { startsWith: filter.mediaType.slice(0, -1) } : filter.mediaType;
  }
  if (filter.before) {
    where.OR = [
      { createdAt: { lt: filter.before.createdAt } },
      { createdAt: filter.before.createdAt, id: { lt: filter.before.id } },
    ];
  }
  return db.evidence.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take });
}

/** Applies a change when the row is still at `version`; null when someone changed it meanwhile. */
export async function updateEvidenceAtVersion(
  tx: Transaction,
  id: string,
  version: number,
  data: Prisma.EvidenceUncheckedUpdateManyInput,
): Promise<EvidenceRow | null> {
  const { count } = await tx.evidence.updateMany({ where: { id, version }, data: { ...data, version: version + 1, updatedAt: new Date() } });
  if (count === 0) return null;
  return tx.evidence.findUnique({ where: { id } });
}

export function setReviewStatus(tx: Transaction, id: string, reviewStatus: string): Promise<unknown> {
  return tx.evidence.update({ where: { id }, data: { reviewStatus } });
}

/** Live members of the case among `userIds`. */
export async function membersAmong(db: Db, caseId: string, userIds: string[]): Promise<Set<string>> {
  const rows = await db.caseMembership.findMany({
    where: { caseId, userId: { in: userIds }, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
    select: { userId: true },
  });
  return new Set(rows.map((row) => row.userId));
}

/** The ids among `ids` that are incidents of `caseId`. */
export async function incidentIdsOfCase(db: Db, caseId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT id::text AS id FROM incidents WHERE case_id = ${caseId}::uuid AND id = ANY(${ids}::uuid[])`;
  return new Set(rows.map((row) => row.id));
}
