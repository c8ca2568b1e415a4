import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { BlobStore } from './blob-store.ts';
import { FilesystemBlobStore } from './fs-blob-store.ts';

export * from './blob-store.ts';
export { FileAppender, FilesystemBlobStore } from './fs-blob-store.ts';
export * from './ingest.ts';
export { DigestStream, stopDigestWorker } from './digest-worker.ts';
export { slotsOf } from './slot-pump.ts';
export { type KnownDigest, adoptFinishedFile } from './adopt.ts';

/** The store the configuration names (the filesystem under the data directory, for now). */
export function blobStoreFor(config: Pick<Config, 'dataDir' | 'directIo'>): BlobStore {
  return new FilesystemBlobStore(join(config.dataDir, 'blobs'), { directIo: config.directIo });
}
