// A finished file written by the service itself (a tus upload) taken into the blob store: moved,
// not copied. Hashed by reading it once (digestFilePrefix, the way a resumed tus upload rebuilds
// its running hash), unless the caller hashed its bytes as it wrote them.
import { open, stat } from 'node:fs/promises';
import type { BlobStore } from './blob-store.ts';
import { BlobTooLargeError, HEAD_BYTES, type IngestedBlob, digestFilePrefix } from './ingest.ts';

/** What the writer of a file knows of it: the SHA-256 and length of the bytes it wrote. */
export interface KnownDigest {
  sha256: string;
  sizeBytes: number;
}

export async function adoptFinishedFile(store: BlobStore, path: string, maxBytes: number, known?: KnownDigest | null): Promise<IngestedBlob> {
  const hashed = (known ? await withHead(path, known) : null) ?? (await hashFile(path, maxBytes));
  if (hashed.sizeBytes > maxBytes) throw new BlobTooLargeError(maxBytes);
  const temp = await store.adoptLocalFile(path);
  return { temp, ...hashed };
}

/** A file its writer hashed, with its first bytes; null when it does not hold the length hashed. */
async function withHead(path: string, known: KnownDigest): Promise<Omit<IngestedBlob, 'temp'> | null> {
  const handle = await open(path, 'r');
  try {
    if ((await handle.stat()).size !== known.sizeBytes) return null;
    const head = Buffer.alloc(Math.min(HEAD_BYTES, known.sizeBytes));
    const { bytesRead } = await handle.read(head, 0, head.byteLength, 0);
    return { sha256: known.sha256, sizeBytes: known.sizeBytes, head: head.subarray(0, bytesRead) };
  } finally {
    await handle.close();
  }
}

/** Reads the file once to hash it (on the digest worker), after checking its size against the limit. */
async function hashFile(path: string, maxBytes: number): Promise<Omit<IngestedBlob, 'temp'>> {
  const { size } = await stat(path);
  if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
  const digest = await digestFilePrefix(path, size);
  let sha256: string;
  try {
    ({ sha256 } = await digest.digest());
  } finally {
    digest.close();
  }
  const hashed = await withHead(path, { sha256, sizeBytes: size });
  if (!hashed) throw new Error('the file changed while it was hashed');
  return hashed;
}
