// The `uploads` table: one row per resumable upload, from creation to `complete` (or expiry).
import type { Db } from '../../database/client.ts';

export interface UploadRow {
  id: string;
  caseId: string;
  createdBy: string;
  uploadLength: bigint;
  originalFilename: string;
  createdAt: Date;
  expiresAt: Date;
  completedEvidenceId: string | null;
}

export function insertUpload(db: Db, row: Omit<UploadRow, 'createdAt' | 'completedEvidenceId'>): Promise<UploadRow> {
  return db.upload.create({ data: row });
}

export function findUpload(db: Db, id: string): Promise<UploadRow | null> {
  return db.upload.findUnique({ where: { id } });
}

/** Marks an upload completed; false when another request completed it first. */
export async function markUploadCompleted(db: Db, id: string, evidenceId: string): Promise<boolean> {
  const { count } = await db.upload.updateMany({ where: { id, completedEvidenceId: null }, data: { completedEvidenceId: evidenceId } });
  return count === 1;
}

export async function deleteUpload(db: Db, id: string): Promise<void> {
  await db.upload.deleteMany({ where: { id, completedEvidenceId: null } });
}

/** Unfinished uploads whose time is up, oldest first. */
export function expiredUploads(db: Db, now: Date, limit: number): Promise<{ id: string }[]> {
  return db.upload.findMany({
    where: { completedEvidenceId: null, expiresAt: { lt: now } },
    select: { id: true },
    orderBy: { expiresAt: 'asc' },
    take: limit,
  });
}

/** Which of these ids are uploads still open (not completed), for the sweep of files nobody owns. */
export async function openUploadIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.upload.findMany({ where: { id: { in: ids }, completedEvidenceId: null }, select: { id: true } });
  return new Set(rows.map((row) => row.id));
}
