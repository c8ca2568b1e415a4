// Streams bytes into a temporary blob (or any sink) while hashing them. The bytes are gathered
// into the slots of a ring of shared, aligned memory (slot-ring.ts); each full slot goes at once
// to the disk and to the digest worker, while the next one fills. Nothing here holds more than
// one ring whatever the size of the upload.
import { type FileHandle, open } from 'node:fs/promises';
import type { BlobStore, TempBlob } from './blob-store.ts';
import { DigestStream } from './digest-worker.ts';
import { SLOT_BYTES, SlotFiller, SlotRing, returnRing, takeRing } from './slot-ring.ts';
import { noteYoungGarbage } from './young-garbage.ts';

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
  /** Where the first byte lands in the file: the first write ends on an aligned position, so the rest can go by direct I/O. */
  startOffset?: number;
  /** Whether the source's chunks are noted as young garbage here (false when the source notes them itself). */
  noteGarbage?: boolean;
}

/**
 * Writes `source` into a new temporary blob of `store` and hashes it. On any failure (the source
 * errors, the limit is passed, the disk refuses) the temporary blob is removed and the error
 * rethrown; on success the caller owns the temporary blob (commit or abort it).
 */
export async function ingestStream(store: BlobStore, source: AsyncIterable<unknown>, options: IngestOptions): Promise<IngestedBlob> {
  const temp = await store.createTemp();
  const digest = new DigestStream();
  try {
    const { sizeBytes, head } = await writeHashed(source, temp, digest, options);
    await temp.finish();
    const { sha256 } = await digest.digest();
    return { temp, sha256, sizeBytes, head };
  } catch (error) {
    await store.abort(temp).catch(() => {});
    throw error;
  } finally {
    digest.close();
  }
}

/** Where writeHashed puts the bytes: appends, in call order (several writes may be in flight). */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
}

/**
 * Copies `source` into `sink` slot by slot, each slot given to `digest` as it is handed to the
 * sink (so the digest covers exactly the bytes given to the sink, in order), a few slots in
 * flight while the next one fills. A chunk of the source that is a slot already filled upstream
 * (slot-pump.ts: a multipart file part, a tus body) goes as it is, and back to its own ring once
 * written. On success every byte of the source was written and hashed. On failure the sink holds
 * a prefix of the source, and `digest` may cover more than that prefix (a write that failed): the
 * caller must discard both.
 */
export async function writeHashed(source: AsyncIterable<unknown>, sink: ByteSink, digest: DigestStream, options: IngestOptions): Promise<{ sizeBytes: number; head: Buffer }> {
  const headLimit = options.headBytes ?? HEAD_BYTES;
  const noteGarbage = options.noteGarbage ?? true;
  const head = Buffer.allocUnsafe(headLimit);
  let headUsed = 0;
  let sizeBytes = 0;
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;

  // A slot goes back to its ring only once both its write and its hash settled: until then the
  // disk or the worker may still read it.
  const dispatch = (bytes: Buffer) => {
    const ring = SlotRing.owning(bytes)!;
    const settled: Promise<void> = Promise.allSettled([digest.update(bytes), sink.write(bytes)]).then((results) => {
      for (const result of results) if (result.status === 'rejected') failure ??= result.reason;
      inflight.delete(settled);
      ring.release(bytes);
    });
    inflight.add(settled);
  };
  // Taken when the first chunk to copy arrives (a source of filled slots needs none).
  let filler: SlotFiller | null = null;

  try {
    for await (const part of source) {
      const chunk = part as Buffer;
      const filled = SlotRing.owning(chunk);
      const position = (options.startOffset ?? 0) + sizeBytes;
      sizeBytes += chunk.byteLength;
      if (sizeBytes > options.maxBytes) {
        filled?.release(chunk);
        throw new BlobTooLargeError(options.maxBytes);
      }
      if (headUsed < headLimit) {
        const n = Math.min(headLimit - headUsed, chunk.byteLength);
        head.set(chunk.subarray(0, n), headUsed);
        headUsed += n;
      }
      if (filled) {
        filler?.flush();
        dispatch(chunk);
      } else {
        if (noteGarbage) noteYoungGarbage(chunk.byteLength);
        filler ??= new SlotFiller(takeRing(), position, dispatch);
        for (let rest = filler.fill(chunk); rest; rest = filler.fill(rest)) {
          await filler.nextSlot();
          if (failure) throw failure;
        }
      }
      if (failure) throw failure;
    }
    filler?.flush();
  } finally {
    filler?.finish();
    while (inflight.size > 0) await Promise.all(inflight);
  }
  if (failure) throw failure;
  return { sizeBytes, head: head.subarray(0, headUsed) };
}

/**
 * Hashes the bytes of `handle` from its start into `digest`, up to `length` or to the end of the
 * file: the ring's slots are read in turn, each hashed on the worker while the next one is read.
 * With `direct` (`handle` opened with O_DIRECT), every read is a whole aligned slot, past the page
 * cache. Answers how many bytes were hashed. A regular file's read is short only at its end.
 */
async function hashFromHandle(handle: FileHandle, digest: DigestStream, length: number, direct: boolean): Promise<number> {
  const ring = takeRing();
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  let position = 0;
  try {
    while (position < length && failure === null) {
      const slot = await ring.acquire();
      const wanted = direct ? SLOT_BYTES : Math.min(SLOT_BYTES, length - position);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(slot, 0, wanted, position));
      } catch (error) {
        ring.release(slot);
        throw error;
      }
      const bytes = Math.min(bytesRead, length - position);
      if (bytes === 0) {
        ring.release(slot);
        break;
      }
      position += bytes;
      // The slot returns to the ring only once the worker is done reading it.
      const hashed: Promise<void> = digest
        .update(slot.subarray(0, bytes))
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => {
          inflight.delete(hashed);
          ring.release(slot);
        });
      inflight.add(hashed);
      if (bytesRead < wanted) break;
    }
  } finally {
    await Promise.all(inflight);
    returnRing(ring);
  }
  if (failure !== null) throw failure;
  return position;
}

/**
 * A digest stream over the first `length` bytes of a file (an upload received before this
 * process started). Rejects when the file holds fewer.
 */
export async function digestFilePrefix(path: string, length: number): Promise<DigestStream> {
  const digest = new DigestStream();
  try {
    const handle = await open(path, 'r');
    try {
      const hashed = await hashFromHandle(handle, digest, length, false);
      if (hashed < length) throw new Error(`the file holds ${hashed} bytes, not ${length}`);
    } finally {
      await handle.close();
    }
    return digest;
  } catch (error) {
    digest.close();
    throw error;
  }
}

/** The SHA-256 and size of a whole open file; `direct`: it was opened with O_DIRECT. */
export async function hashFile(handle: FileHandle, direct: boolean): Promise<{ sha256: string; sizeBytes: number }> {
  const digest = new DigestStream();
  try {
    const sizeBytes = await hashFromHandle(handle, digest, Number.POSITIVE_INFINITY, direct);
    return { sha256: (await digest.digest()).sha256, sizeBytes };
  } finally {
    digest.close();
  }
}

const DISCARD: ByteSink = { write: async () => {} };

/**
 * Re-reads a stored blob and hashes what is actually there (on the digest worker, like an upload):
 * where it lies when the store can (BlobStore.digest), else streamed.
 */
export async function hashStoredBlob(store: BlobStore, sha256: string): Promise<{ sha256: string; sizeBytes: number }> {
  if (store.digest) return store.digest(sha256);
  const source = await store.open(sha256);
  const digest = new DigestStream();
  try {
    // The store's stream notes its reads itself (as for a download): noting them again would scavenge twice as often.
    const { sizeBytes } = await writeHashed(source, DISCARD, digest, { maxBytes: Number.POSITIVE_INFINITY, headBytes: 0, noteGarbage: false });
    return { sha256: (await digest.digest()).sha256, sizeBytes };
  } finally {
    digest.close();
  }
}
