// A finished file written by the service itself (a tus upload) taken into the blob store: read
// once to hash it (and keep its first bytes), then moved, not copied.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { BlobStore } from './blob-store.ts';
import { BlobTooLargeError, HEAD_BYTES, type IngestedBlob } from './ingest.ts';

export async function adoptFinishedFile(store: BlobStore, path: string, maxBytes: number): Promise<IngestedBlob> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headUsed = 0;
  let sizeBytes = 0;
  for await (const part of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const chunk = part as Buffer;
    sizeBytes += chunk.byteLength;
    if (sizeBytes > maxBytes) throw new BlobTooLargeError(maxBytes);
    hash.update(chunk);
    if (headUsed < HEAD_BYTES) {
      const slice = Buffer.from(chunk.subarray(0, HEAD_BYTES - headUsed));
      head.push(slice);
      headUsed += slice.byteLength;
    }
  }
  const temp = await store.adoptLocalFile(path);
  return { temp, sha256: hash.digest('hex'), sizeBytes, head: Buffer.concat(head) };
}
