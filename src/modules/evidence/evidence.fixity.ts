// The fixity of stored evidence: every blob the database records is read back, hashed, and
// compared with the hash and size it was stored under, as archives check their holdings on a
// schedule and after any incident (a failing disk, a restored backup). `custodia check` runs it.
// Nothing is written: a review records a mismatch on the item, with its reviewer, as the
// four-eyes rule wants; this says where to look.
import type { Database } from '../../database/client.ts';
import { BlobNotFoundError, type BlobStore, hashStoredBlob } from '../../storage/index.ts';

export type BlobProblemKind = 'missing' | 'size_differs' | 'bytes_differ' | 'unreadable';

export interface BlobProblem {
  sha256: string;
  problem: BlobProblemKind;
  /** What the store holds instead: its size, and its hash once read. */
  found?: { sizeBytes: number; sha256?: string };
  /** Why it could not be read (unreadable). */
  error?: string;
  /** The evidence items recorded with these bytes. */
  evidence: { id: string; caseId: string }[];
}

export interface BlobCheck {
  /** Blobs the database records, all checked. */
  checked: number;
  /** Bytes read and hashed. */
  bytesRead: number;
  problems: BlobProblem[];
}

const PAGE = 100;

/** How far a check has come: blobs and bytes checked so far, of those recorded when it began. */
export interface BlobCheckProgress {
  checked: number;
  bytesRead: number;
  blobs: number;
  bytes: number;
}

/**
 * Checks every recorded blob, one after the other; `onProblem` hears of each problem as it is
 * found, `onProgress` of each blob checked.
 */
export async function checkStoredBlobs(
  deps: { db: Database; store: BlobStore },
  onProblem: (problem: BlobProblem) => void = () => {},
  onProgress: (progress: BlobCheckProgress) => void = () => {},
): Promise<BlobCheck> {
  const report: BlobCheck = { checked: 0, bytesRead: 0, problems: [] };
  const total = await deps.db.blob.aggregate({ _count: true, _sum: { sizeBytes: true } });
  const blobs = total._count;
  const bytes = Number(total._sum.sizeBytes ?? 0);
  for (let after = ''; ; ) {
    const page = await deps.db.blob.findMany({ where: { sha256: { gt: after } }, orderBy: { sha256: 'asc' }, take: PAGE, select: { sha256: true, sizeBytes: true } });
    if (page.length === 0) return report;
    for (const blob of page) {
      const { problem, bytesRead } = await checkBlob(deps.store, blob.sha256, Number(blob.sizeBytes));
      report.checked++;
      report.bytesRead += bytesRead;
      if (problem) {
        const evidence = await deps.db.evidence.findMany({ where: { sha256: blob.sha256 }, select: { id: true, caseId: true }, orderBy: { id: 'asc' } });
        const found: BlobProblem = { sha256: blob.sha256, ...problem, evidence };
        report.problems.push(found);
        onProblem(found);
      }
      onProgress({ checked: report.checked, bytesRead: report.bytesRead, blobs, bytes });
    }
    after = page.at(-1)!.sha256;
  }
}

type Finding = Omit<BlobProblem, 'sha256' | 'evidence'>;

async function checkBlob(store: BlobStore, sha256: string, sizeBytes: number): Promise<{ problem: Finding | null; bytesRead: number }> {
  try {
    const stat = await store.stat(sha256);
    if (!stat) return { problem: { problem: 'missing' }, bytesRead: 0 };
    if (stat.sizeBytes !== sizeBytes) return { problem: { problem: 'size_differs', found: { sizeBytes: stat.sizeBytes } }, bytesRead: 0 };
    const actual = await hashStoredBlob(store, sha256);
    const problem: Finding | null = actual.sha256 === sha256 && actual.sizeBytes === sizeBytes ? null : { problem: 'bytes_differ', found: actual };
    return { problem, bytesRead: actual.sizeBytes };
  } catch (error) {
    if (error instanceof BlobNotFoundError) return { problem: { problem: 'missing' }, bytesRead: 0 };
    return { problem: { problem: 'unreadable', error: (error as Error).message }, bytesRead: 0 };
  }
}
