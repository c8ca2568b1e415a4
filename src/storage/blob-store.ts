// Where evidence bytes live. Content-addressed: a blob's key is derived from its SHA-256, so the
// same bytes are stored once and a row only ever holds the relative key, never a local path.
// The interface speaks streams and promises only, so an S3-compatible store can implement it.
import type { Readable } from 'node:stream';

/** Bytes being received, not yet visible under their content address. */
export interface TempBlob {
  /** Opaque identifier inside the store (logs, diagnostics). */
  readonly id: string;
  /**
   * Appends bytes, in the order of the calls (several writes may be in flight); the buffer must
   * not be reused before its write settles.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes everything written durable (fsync) and closes the handle. Idempotent. */
  finish(): Promise<void>;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface CommitResult {
  storageKey: string;
  /** False when the blob already existed: the temporary bytes are still there, for the caller to abort. */
  created: boolean;
}

export interface BlobStore {
  createTemp(): Promise<TempBlob>;
  /**
   * Moves finished temporary bytes under the content address of `sha256` (durably). When a blob
   * with that hash already exists, it is kept as it is and the temporary bytes are left in place:
   * the caller aborts them once its transaction is over (discarding a GiB takes the filesystem
   * ~0.4 s, which no database lock should wait for).
   */
  commit(temp: TempBlob, sha256: string): Promise<CommitResult>;
  /** Discards temporary bytes (safe to call twice, or after a failed commit). */
  abort(temp: TempBlob): Promise<void>;
  /**
   * Optional: the SHA-256 and size of a blob as stored, computed where it lies when the store can
   * do better than streaming it out (the filesystem store reads it into aligned memory past the
   * page cache). Rejects with BlobNotFoundError when absent. Without it, callers stream `open`.
   */
  digest?(sha256: string): Promise<{ sha256: string; sizeBytes: number }>;
  /** Streams a blob, or a range of it. Rejects with BlobNotFoundError when absent. */
  open(sha256: string, range?: ByteRange): Promise<Readable>;
  stat(sha256: string): Promise<{ sizeBytes: number } | null>;
  exists(sha256: string): Promise<boolean>;
  /** Removes a committed blob (only for one that no row references). Absent is not an error. */
  remove(sha256: string): Promise<void>;
  /** Takes ownership of a finished file the service wrote elsewhere (a tus upload) as a temporary blob. */
  adoptLocalFile(path: string): Promise<TempBlob>;
  /**
   * Removes temporary bytes that nothing has written to since `before`: what a process stopped
   * in the middle of an upload (killed, crashed, the power gone) left behind, which no request
   * will ever commit or abort. Answers how many it removed.
   */
  sweepTemps(before: Date): Promise<number>;
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function assertSha256(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new Error('not a lowercase hex SHA-256');
}

/** The relative key of a blob: `sha256/ab/cd/<hash>`. */
export function storageKeyOf(sha256: string): string {
  assertSha256(sha256);
  return `sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}
