// The `uploads.expire` job: unfinished uploads past `expires_at` lose their bytes and their row;
// files in the upload directory that no open upload owns (a crash between removing a file and its
// row, a completed upload whose info file stayed) are swept once they are old enough, and so are
// the blob store's temporary files that a process stopped in the middle of an upload left.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import { blobStoreFor } from '../../storage/index.ts';
import { expiredUploads, openUploadIds } from './uploads.repository.ts';
import { removeUploadFiles, uploadDirectory } from './uploads.tus.ts';
import { LOWERCASE_UUID } from '../../http/uuid.ts';

const BATCH = 100;
/** A file without a row is left alone this long (its row may be being written). */
const ORPHAN_GRACE_MS = 60 * 60 * 1000;
/**
 * A temporary blob is being written while its request lasts, and requests have no time limit
 * (a slow link, a paused client): one is taken for abandoned only after a day without a write.
 */
const TEMP_BLOB_GRACE_MS = 24 * 60 * 60 * 1000;

export interface ExpireDeps {
  db: Database;
  config: Pick<Config, 'dataDir' | 'directIo'>;
  log: { info(object: object, message: string): void; warn(object: object, message: string): void };
}

export async function expireUploads(deps: ExpireDeps, now = new Date()): Promise<{ expired: number; swept: number; tempBlobsSwept: number }> {
  const directory = uploadDirectory(deps.config);
  let expired = 0;
  for (;;) {
    const rows = await expiredUploads(deps.db, now, BATCH);
    if (rows.length === 0) break;
    const removed: string[] = [];
    for (const { id } of rows) {
      try {
        await removeUploadFiles(directory, id);
        removed.push(id);
      } catch (error) {
        deps.log.warn({ err: { message: (error as Error).message }, uploadId: id }, 'could not remove the bytes of an expired upload');
      }
    }
    if (removed.length === 0) break;
    // Bytes first, then the row: a crash in between leaves a row whose files are already gone.
    const { count } = await deps.db.upload.deleteMany({ where: { id: { in: removed }, completedEvidenceId: null, expiresAt: { lt: now } } });
    expired += count;
    if (rows.length < BATCH) break;
  }
  const swept = await sweepOrphans(deps, directory, now);
  const tempBlobsSwept = await blobStoreFor(deps.config).sweepTemps(new Date(now.getTime() - TEMP_BLOB_GRACE_MS));
  if (expired || swept || tempBlobsSwept) deps.log.info({ expired, swept, tempBlobsSwept }, 'expired uploads removed');
  return { expired, swept, tempBlobsSwept };
}

async function sweepOrphans(deps: ExpireDeps, directory: string, now: Date): Promise<number> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return 0;
  }
  const ids = [...new Set(names.map((name) => name.replace(/\.json$/, '')).filter((id) => LOWERCASE_UUID.test(id)))];
  let swept = 0;
  for (let i = 0; i < ids.length; i += BATCH) {
    const slice = ids.slice(i, i + BATCH);
    const open = await openUploadIds(deps.db, slice);
    for (const id of slice) {
      if (open.has(id)) continue;
      const info = await stat(join(directory, `${id}.json`)).catch(() => stat(join(directory, id)).catch(() => null));
      if (info && now.getTime() - info.mtimeMs < ORPHAN_GRACE_MS) continue;
      await removeUploadFiles(directory, id).catch(() => {});
      swept += 1;
    }
  }
  return swept;
}
