// Streams bytes into a temporary blob (or any sink) while hashing them. The bytes are gathered
// into the slots of a ring of shared, aligned memory (slot-ring.ts); each full slot goes at once
// to the disk and to the digest worker, while the next one fills. Nothing here holds more than
// one ring whatever the size of the upload.
import { open } from 'node:fs/promises';
import { Readable, finished } from 'node:stream';
import type { BlobStore, TempBlob } from './blob-store.ts';
import { DigestStream } from './digest-worker.ts';
import { DIRECT_IO_ALIGNMENT, SLOT_BYTES, copyIntoSlot, returnRing, takeRing } from './slot-ring.ts';
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
 * Gives each chunk of `source` to `take`, in order, waiting whenever `take` answers a promise.
 * A Node stream is read in flowing mode and paused while `take` waits: an async iterator would
 * cost a promise and a few microtask turns per 64 KiB read, ~5 % of the server's CPU during an
 * upload. As with `for await`, the first failure (of `take` or of the stream, or a stream closed
 * before its end) destroys the stream and rejects, and never while a `take` is still running:
 * the caller's cleanup must not race it for the ring's slots.
 */
async function eachChunk(source: AsyncIterable<unknown>, take: (chunk: Uint8Array) => Promise<void> | undefined): Promise<void> {
  if (!(source instanceof Readable)) {
    for await (const part of source) await take(part as Uint8Array);
    return;
  }
  const stream = source;
  await new Promise<void>((resolve, reject) => {
    let waiting: Promise<void> | undefined;
    let over = false;
    const end = (error?: unknown) => {
      if (over) return;
      over = true;
      stream.off('data', onData);
      if (error !== undefined) stream.destroy();
      const settle = () => (error === undefined ? resolve() : reject(error));
      void (waiting ?? Promise.resolve()).then(settle, settle);
    };
    const onData = (part: Uint8Array) => {
      try {
        waiting = take(part);
      } catch (error) {
        return end(error);
      }
      if (!waiting) return;
      stream.pause();
      waiting.then(
        () => {
          waiting = undefined;
          if (!over) stream.resume();
        },
        (error: unknown) => {
          waiting = undefined;
          end(error);
        },
      );
    };
    stream.on('data', onData);
    finished(stream, (error) => end(error ?? undefined));
  });
}

/**
 * Copies `source` into `sink` slot by slot, each slot given to `digest` as it is handed to the
 * sink (so the digest covers exactly the bytes given to the sink, in order), a few slots in
 * flight while the next one fills. On success every byte of the source was written and hashed.
 * On failure the sink holds a prefix of the source, and `digest` may cover more than that prefix
 * (a write that failed): the caller must discard both.
 */
export async function writeHashed(source: AsyncIterable<unknown>, sink: ByteSink, digest: DigestStream, options: IngestOptions): Promise<{ sizeBytes: number; head: Buffer }> {
  const headLimit = options.headBytes ?? HEAD_BYTES;
  const head = Buffer.allocUnsafe(headLimit);
  let headUsed = 0;
  let sizeBytes = 0;
  const ring = takeRing();
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  let slot: Buffer | null = null;
  let used = 0;
  let capacity = (DIRECT_IO_ALIGNMENT - ((options.startOffset ?? 0) % DIRECT_IO_ALIGNMENT)) % DIRECT_IO_ALIGNMENT || SLOT_BYTES;

  // The slot comes back to the ring only once both its write and its hash settled: until then
  // the disk or the worker may still read it.
  const dispatch = (full: Buffer, length: number) => {
    const bytes = full.subarray(0, length);
    const settled: Promise<void> = Promise.allSettled([digest.update(bytes), sink.write(bytes)]).then((results) => {
      for (const result of results) if (result.status === 'rejected') failure ??= result.reason;
      inflight.delete(settled);
      ring.release(full);
    });
    inflight.add(settled);
  };

  // Copies `chunk` from `offset` on into slots; answers a promise only when it must wait for one.
  const fill = (chunk: Uint8Array, offset: number): Promise<void> | undefined => {
    while (offset < chunk.byteLength) {
      const n = Math.min(capacity - used, chunk.byteLength - offset);
      copyIntoSlot(slot!, chunk.subarray(offset, offset + n), used);
      used += n;
      offset += n;
      if (used === capacity) {
        dispatch(slot!, used);
        used = 0;
        capacity = SLOT_BYTES;
        slot = ring.tryAcquire();
        if (failure) throw failure;
        if (!slot) {
          return ring.acquire().then((free) => {
            slot = free;
            if (failure) throw failure;
            return fill(chunk, offset);
          });
        }
      }
    }
    return undefined;
  };

  const take = (chunk: Uint8Array): Promise<void> | undefined => {
    sizeBytes += chunk.byteLength;
    noteYoungGarbage(chunk.byteLength);
    if (sizeBytes > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
    if (headUsed < headLimit) {
      const n = Math.min(headLimit - headUsed, chunk.byteLength);
      head.set(chunk.subarray(0, n), headUsed);
      headUsed += n;
    }
    return fill(chunk, 0);
  };

  try {
    slot = await ring.acquire();
    await eachChunk(source, take);
    if (used > 0) {
      const last: Buffer = slot!;
      slot = null;
      dispatch(last, used);
    }
  } finally {
    if (slot) ring.release(slot);
    while (inflight.size > 0) await Promise.all(inflight);
    returnRing(ring);
  }
  if (failure) throw failure;
  return { sizeBytes, head: head.subarray(0, headUsed) };
}

/**
 * A digest stream over the first `length` bytes of a file (an upload received before this
 * process started). Rejects when the file holds fewer.
 */
export async function digestFilePrefix(path: string, length: number): Promise<DigestStream> {
  const digest = new DigestStream();
  const ring = takeRing();
  const slot = await ring.acquire();
  try {
    const handle = await open(path, 'r');
    try {
      for (let position = 0; position < length; ) {
        const { bytesRead } = await handle.read(slot, 0, Math.min(SLOT_BYTES, length - position), position);
        if (bytesRead === 0) throw new Error(`the file holds ${position} bytes, not ${length}`);
        await digest.update(slot.subarray(0, bytesRead));
        position += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return digest;
  } catch (error) {
    digest.close();
    throw error;
  } finally {
    ring.release(slot);
    returnRing(ring);
  }
}

const DISCARD: ByteSink = { write: async () => {} };

/** Re-reads a stored blob and hashes what is actually there (on the digest worker, like an upload). */
export async function hashStoredBlob(store: BlobStore, sha256: string): Promise<{ sha256: string; sizeBytes: number }> {
  const source = await store.open(sha256);
  const digest = new DigestStream();
  try {
    const { sizeBytes } = await writeHashed(source, DISCARD, digest, { maxBytes: Number.POSITIVE_INFINITY, headBytes: 0 });
    return { sha256: (await digest.digest()).sha256, sizeBytes };
  } finally {
    digest.close();
  }
}
