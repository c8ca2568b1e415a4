// Streams a bundle (or a byte range of it) from its segments: ranges of stored blobs, read in
// order, one open at a time. A whole download is hashed on its way out and its last chunk is held
// back until the hash is the bundle's recorded SHA-256: a bundle whose stored bytes changed since
// the export (a tampered evidence file, a damaged skeleton) never reaches anyone complete.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '../../../storage/index.ts';
import type { BundleSegment } from './bundle-writer.ts';

export class BundleIntegrityError extends Error {
  override name = 'BundleIntegrityError';
}

/** The segments that hold bytes [range.start, range.end] of the bundle, each cut to the range. */
export function segmentsInRange(segments: readonly BundleSegment[], range: ByteRange): BundleSegment[] {
  const cut: BundleSegment[] = [];
  let position = 0;
  for (const segment of segments) {
    const first = position;
    const last = position + segment.length - 1;
    position += segment.length;
    if (last < range.start || first > range.end) continue;
    const from = Math.max(range.start, first) - first;
    const to = Math.min(range.end, last) - first;
    cut.push({ ...segment, start: segment.start + from, length: to - from + 1 });
  }
  return cut;
}

async function* segmentBytes(store: Pick<BlobStore, 'open'>, segments: readonly BundleSegment[]): AsyncGenerator<Buffer> {
  for (const segment of segments) {
    const source = await store.open(segment.blob, { start: segment.start, end: segment.start + segment.length - 1 });
    let received = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      received += chunk.length;
      yield chunk;
    }
    if (received !== segment.length) throw new BundleIntegrityError(`a stored blob of the bundle is ${received < segment.length ? 'shorter' : 'longer'} than recorded`);
  }
}

async function* heldUntilVerified(chunks: AsyncIterable<Buffer>, sha256: string): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let held: Buffer | null = null;
  for await (const chunk of chunks) {
    hash.update(chunk);
    if (held !== null) yield held;
    held = chunk;
  }
  if (hash.digest('hex') !== sha256) throw new BundleIntegrityError('the stored bytes of the bundle no longer hash to its recorded SHA-256');
  if (held !== null) yield held;
}

/**
 * The bytes of `segments` in order: the whole bundle, verified against `wholeSha256` before its
 * last chunk goes out, or a range of it cut by segmentsInRange (`wholeSha256` null: a partial read
 * cannot be verified here; the client checks the whole file).
 */
export function bundleStream(store: Pick<BlobStore, 'open'>, segments: readonly BundleSegment[], wholeSha256: string | null): Readable {
  const bytes = segmentBytes(store, segments);
  return Readable.from(wholeSha256 === null ? bytes : heldUntilVerified(bytes, wholeSha256), { objectMode: false });
}
