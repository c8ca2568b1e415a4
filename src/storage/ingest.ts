// Streams bytes into a temporary blob while hashing them: SHA-256 over 1 MiB batches, one disk
// write in flight while the next batch fills, fsync at the end. Nothing here holds more than a
// few MiB whatever the size of the upload.
import { createHash } from 'node:crypto';
import type { BlobStore, TempBlob } from './blob-store.ts';

export const INGEST_CHUNK_BYTES = 1024 * 1024;
/** Enough of the start of a file to sniff its type and read its EXIF/XMP segments. */
export const HEAD_BYTES = 512 * 1024;

export class BlobTooLargeError extends Error {
  override name = 'BlobTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`more than ${maxBytes} bytes`);
  }
}

export interface IngestedBlob {
  temp: TempBlob;
  sha256: string;
  sizeBytes: number;
  /** The first bytes (up to HEAD_BYTES). */
  head: Buffer;
}

export interface IngestOptions {
  maxBytes: number;
  headBytes?: number;
}

/**
 * Writes `source` into a new temporary blob of `store` and hashes it. On any failure (the source
 * errors, the limit is passed, the disk refuses) the temporary blob is removed and the error
 * rethrown; on success the caller owns the temporary blob (commit or abort it).
 */
export async function ingestStream(store: BlobStore, source: AsyncIterable<unknown>, options: IngestOptions): Promise<IngestedBlob> {
  const temp = await store.createTemp();
  try {
    const { sha256, sizeBytes, head } = await copyAndHash(source, temp, options);
    await temp.finish();
    return { temp, sha256, sizeBytes, head };
  } catch (error) {
    await store.abort(temp).catch(() => {});
    throw error;
  }
}

async function copyAndHash(source: AsyncIterable<unknown>, temp: TempBlob, options: IngestOptions) {
  const hash = createHash('sha256');
  const headLimit = options.headBytes ?? HEAD_BYTES;
  const head = Buffer.allocUnsafe(headLimit);
  let headUsed = 0;
  let sizeBytes = 0;
  // Two buffers: one being written to disk, one filling.
  const spare: Buffer[] = [Buffer.allocUnsafe(INGEST_CHUNK_BYTES)];
  let batch: Buffer = Buffer.allocUnsafe(INGEST_CHUNK_BYTES);
  let used = 0;
  let inflight: Promise<void> = Promise.resolve();

  const flush = async (bytes: Buffer) => {
    hash.update(bytes);
    await inflight;
    const writing = temp.write(bytes);
    inflight = writing;
    writing.catch(() => {});
  };

  try {
    for await (const part of source) {
      const chunk = part as Uint8Array;
      sizeBytes += chunk.byteLength;
      if (sizeBytes > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
      if (headUsed < headLimit) {
        const n = Math.min(headLimit - headUsed, chunk.byteLength);
        head.set(chunk.subarray(0, n), headUsed);
        headUsed += n;
      }
      let offset = 0;
      while (offset < chunk.byteLength) {
        const n = Math.min(INGEST_CHUNK_BYTES - used, chunk.byteLength - offset);
        batch.set(chunk.subarray(offset, offset + n), used);
        used += n;
        offset += n;
        if (used === INGEST_CHUNK_BYTES) {
          const full = batch;
          await flush(full);
          batch = spare.pop() ?? Buffer.allocUnsafe(INGEST_CHUNK_BYTES);
          // The buffer just handed to the disk comes back once its write has settled.
          void inflight.then(() => spare.push(full), () => {});
          used = 0;
        }
      }
    }
    if (used > 0) await flush(batch.subarray(0, used));
  } finally {
    await inflight.catch(() => {});
  }
  await inflight;
  return { sha256: hash.digest('hex'), sizeBytes, head: head.subarray(0, headUsed) };
}

/** SHA-256 and length of a stream, without storing it. */
export async function hashStream(source: AsyncIterable<unknown>): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const part of source) {
    const chunk = part as Uint8Array;
    sizeBytes += chunk.byteLength;
    hash.update(chunk);
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

/** Re-reads a stored blob and hashes what is actually there. */
export async function hashStoredBlob(store: BlobStore, sha256: string): Promise<{ sha256: string; sizeBytes: number }> {
  return hashStream(await store.open(sha256));
}
