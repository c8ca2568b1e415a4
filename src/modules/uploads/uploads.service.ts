// Rules of resumable uploads: only the user who created an upload may touch it (anyone else gets
// the same 404 as for a missing one), and only while they may still add evidence to its case;
// `complete` turns a finished upload into evidence exactly as the multipart route does.
import { access } from 'node:fs/promises';
import type { Upload } from '@tus/server';
import type { Caller } from '../../http/caller.ts';
import { AppError, conflict, gone, notFound } from '../../http/errors.ts';
import { authorize } from '../cases/access.ts';
import { type EvidenceDeps, registerEvidenceFromFile, safeOriginalFilename } from '../evidence/evidence.intake.ts';
import type { EvidenceView } from '../evidence/evidence.schemas.ts';
import { type UploadRow, deleteUpload, findUpload, insertUpload, markUploadCompleted } from './uploads.repository.ts';
import { type TusBridge, removeUploadFiles, removeUploadInfo, syncUploadData, uploadDataPath } from './uploads.tus.ts';

export interface UploadDeps extends EvidenceDeps {
  tus: TusBridge;
  /** Uploads whose `complete` is running in this process: tus requests on them wait their turn as a 409. */
  completing: Set<string>;
}

/** The caller's own upload, or the 404 a stranger gets; 403/404 when they lost their role on the case. */
export async function loadOwnUpload(deps: Pick<EvidenceDeps, 'db'>, caller: Caller, id: string): Promise<UploadRow> {
  const row = await findUpload(deps.db, id);
  if (!row || row.createdBy !== caller.user.id) throw notFound('upload');
  await authorize(deps.db, caller, 'evidence.write', row.caseId, { what: 'upload' });
  return row;
}

/** An upload tus may still work on: not turned into evidence (its files are gone), not expired, not being completed. */
export function assertOpen(deps: Pick<UploadDeps, 'completing'>, row: UploadRow, now = new Date()): void {
  if (row.completedEvidenceId) throw notFound('upload');
  if (row.expiresAt <= now) throw gone('The upload expired; start a new one.');
  if (deps.completing.has(row.id)) throw conflict('The upload is being turned into evidence.');
}

export async function recordUpload(deps: Pick<EvidenceDeps, 'db' | 'config'>, caller: Caller, caseId: string, upload: Upload): Promise<void> {
  const filename = typeof upload.metadata?.filename === 'string' ? upload.metadata.filename : '';
  await insertUpload(deps.db, {
    id: upload.id,
    caseId,
    createdBy: caller.user.id,
    uploadLength: BigInt(upload.size ?? 0),
    originalFilename: safeOriginalFilename(filename),
    expiresAt: new Date(Date.now() + deps.config.uploadTtlSeconds * 1000),
  });
}

/** After a tus termination (DELETE) answered 204: the row goes too. */
export async function forgetUpload(deps: Pick<EvidenceDeps, 'db'>, id: string): Promise<void> {
  await deleteUpload(deps.db, id);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function completeUpload(deps: UploadDeps, caller: Caller, id: string, metadata: unknown): Promise<EvidenceView> {
  const row = await loadOwnUpload(deps, caller, id);
  if (row.completedEvidenceId) throw conflict('This upload has already been turned into evidence.');
  if (row.expiresAt <= new Date()) throw gone('The upload expired; start a new one.');
  if (deps.completing.has(id)) throw conflict('The upload is already being turned into evidence.');
  const notFinished = async () => {
    const progress = await deps.tus.progress(id);
    if (!progress) throw gone('The bytes of this upload are no longer here; start a new one.');
    if (progress.length === undefined || progress.offset !== progress.length) {
      return conflict(`The upload is not finished: ${progress.offset} of ${progress.length ?? '?'} bytes received.`);
    }
    return null;
  };
  // Checked before taking the tus lock: taking it asks a PATCH in flight to stop.
  const early = await notFinished();
  if (early) throw early;

  deps.completing.add(id);
  const lock = deps.tus.locker.newLock(id);
  const stop = new AbortController();
  let locked = false;
  try {
    await lock.lock(stop.signal, async () => {});
    locked = true;
    const late = await notFinished();
    if (late) throw late;
    const path = uploadDataPath(deps.tus.directory, id);
    await syncUploadData(deps.tus.directory, id);
    // Hashed as the PATCHes wrote it (when this process received every byte, or re-hashed the
    // part received before it started); otherwise read again.
    const sizeBytes = Number(row.uploadLength);
    const sha256 = await deps.tus.sha256Of(id, sizeBytes);
    let evidence: EvidenceView;
    try {
      const known = sha256 ? { sha256, sizeBytes } : null;
      evidence = await registerEvidenceFromFile(deps, caller, row.caseId, { path, originalFilename: row.originalFilename, known }, metadata);
    } catch (error) {
      // A refusal of the fields leaves the file where it was (the client fixes them and retries);
      // a failure after the store took the file leaves nothing to resume: the upload goes.
      if (!(await exists(path))) {
        await removeUploadFiles(deps.tus.directory, id).catch(() => {});
        await deleteUpload(deps.db, id).catch(() => {});
      }
      throw error;
    }
    deps.tus.forget(id);
    await markUploadCompleted(deps.db, id, evidence.id);
    await removeUploadInfo(deps.tus.directory, id).catch((error: Error) => {
      deps.log?.warn({ err: { message: error.message }, uploadId: id }, 'could not remove the tus info file of a completed upload');
    });
    return evidence;
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as { status_code?: number }).status_code;
    if (code === 500 && !locked) throw conflict('The upload is busy; try again.');
    throw error;
  } finally {
    if (locked) await lock.unlock().catch(() => {});
    deps.completing.delete(id);
  }
}
