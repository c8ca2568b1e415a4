// Streams bytes into a temporary blob (or any sink) while hashing them: SHA-256 over 1 MiB
// batches, a few disk writes in flight while the next batch fills, fsync at the end. Nothing here holds more than a
// few MiB whatever the size of the upload.
import { type Hash, createHash } from 'node:crypto';
import type { BlobStore, TempBlob } from './blob-store.ts';

export const INGEST_CHUNK_BYTES = 1024 * 1024;
/** Enough of the start of a file to sniff its type and read its EXIF/XMP segments. */
export const HEAD_BYTES = 512 * 1024;
/** Disk writes allowed in flight at once (so at most this many MiB buffered, plus one filling). */
const WRITES_IN_FLIGHT = 4;

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
    const hash = createHash('sha256');
    const { sizeBytes, head } = await writeHashed(source, temp, hash, options);
    await temp.finish();
    return { temp, sha256: hash.digest('hex'), sizeBytes, head };
  } catch (error) {
    await store.abort(temp).catch(() => {});
    throw error;
  }
}

/** Where writeHashed puts the bytes: appends, in call order (several writes may be in flight). */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
}

/**
 * Copies `source` into `sink` in 1 MiB batches, each batch fed to `hash` as it is handed to the
 * disk (so the hash covers exactly the bytes given to the sink, in order), one write in flight
 * while the next batch fills. On success every byte of the source was written and hashed. On
 * failure the sink holds a prefix of the source, and `hash` may cover more than that prefix
 * (a write that failed): the caller must discard it.
 */
export async function writeHashed(source: AsyncIterable<unknown>, sink: ByteSink, hash: Hash, options: IngestOptions): Promise<{ sizeBytes: number; head: Buffer }> {
  const headLimit = options.headBytes ?? HEAD_BYTES;
  const head = Buffer.allocUnsafe(headLimit);
  let headUsed = 0;
  let sizeBytes = 0;
  // Full batches go to the disk while the next ones fill; buffers come back once written.
  const spare: Buffer[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  let batch: Buffer = Buffer.allocUnsafe(INGEST_CHUNK_BYTES);
  let used = 0;

  const flush = async (bytes: Buffer, reusable: Buffer | null) => {
    while (inflight.size >= WRITES_IN_FLIGHT) await Promise.race(inflight);
    if (failure) throw failure;
    hash.update(bytes);
    const writing: Promise<void> = sink.write(bytes).then(
      () => {
        inflight.delete(writing);
        if (reusable) spare.push(reusable);
      },
      (error: unknown) => {
        inflight.delete(writing);
        failure ??= error;
      },
    );
    inflight.add(writing);
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
          await flush(batch, batch);
          batch = spare.pop() ?? Buffer.allocUnsafe(INGEST_CHUNK_BYTES);
          used = 0;
        }
      }
    }
    if (used > 0) await flush(batch.subarray(0, used), null);
  } finally {
    await Promise.allSettled(inflight);
  }
  if (failure) throw failure;
  return { sizeBytes, head: head.subarray(0, headUsed) };
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
