// Turning received bytes into evidence. The multipart route and tus's `complete` both end here:
// the bytes are already hashed into a temporary blob (durable, fsynced); this validates the
// fields, moves the blob under its content address and writes the evidence row, the blob row,
// revision 1, the `collected` custody entry and the audit entry in ONE transaction. Whatever
// fails, no row, no custody entry and no file are left behind.
import type { Readable } from 'node:stream';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { AppError } from '../../http/errors.ts';
import { BlobTooLargeError, type BlobStore, type IngestedBlob, type KnownDigest, adoptFinishedFile, ingestStream, slotsOf } from '../../storage/index.ts';
import { audit } from '../audit/audit.ts';
import { authorize } from '../cases/access.ts';
import { afterCommitIntegrate, appendCustodyEntry } from '../custody/custody.append.ts';
import { recordRevision } from '../revisions/revisions.ts';
import { extractCaptureInfo, sniffMediaType } from './evidence.media.ts';
import { type EvidenceFields, validateEvidenceMetadata } from './evidence.metadata.ts';
import { blobIsRecorded, insertBlobIfAbsent, insertEvidence, lockBlob } from './evidence.repository.ts';
import type { EvidenceView } from './evidence.schemas.ts';
import { revisionSnapshot, toEvidenceView } from './evidence.view.ts';

export interface IntakeLogger {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface EvidenceDeps {
  db: Database;
  config: Config;
  store: BlobStore;
  log?: IntakeLogger;
}

/** Bytes ready to become evidence: a finished temporary blob, its hash and size, and its first bytes. */
export interface ReceivedFile extends IngestedBlob {
  originalFilename: string;
}

const TRANSACTION = { maxWait: 10_000, timeout: 60_000 };

/** 404 or 403 unless the caller may add evidence to the case. Call it before reading any byte. */
export async function authorizeEvidenceIntake(deps: Pick<EvidenceDeps, 'db'>, caller: Caller, caseId: string): Promise<void> {
  await authorize(deps.db, caller, 'evidence.write', caseId, { what: 'case' });
}

/**
 * Hashes a multipart file part into a temporary blob; over `config.maxUploadBytes` it is a 413
 * and nothing is kept. The part is read into ring slots as it arrives (slot-pump.ts): one step
 * of ingest per 2 MiB instead of per 64 KiB read.
 */
export async function receiveFile(deps: Pick<EvidenceDeps, 'store' | 'config'>, part: Readable, originalFilename: string): Promise<ReceivedFile> {
  try {
    const blob = await ingestStream(deps.store, slotsOf(part), { maxBytes: deps.config.maxUploadBytes });
    return { ...blob, originalFilename: safeOriginalFilename(originalFilename) };
  } catch (error) {
    if (error instanceof BlobTooLargeError) throw payloadTooLarge(deps.config.maxUploadBytes);
    throw error;
  }
}

export function payloadTooLarge(maxBytes: number): AppError {
  return new AppError('payload_too_large', `A file may hold at most ${maxBytes} bytes.`, { headers: { connection: 'close' } });
}

/** The client's file name, kept as text only: no directories, no control characters, bounded. */
export function safeOriginalFilename(name: string | undefined): string {
  if (!name) return '';
  const base = name.split(/[\\/]/).pop() ?? '';
  return base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
}

/**
 * Validates `metadata` (400 naming the field), then stores the evidence. Takes ownership of
 * `file.temp`: it is committed or removed whatever happens. The caller must have passed
 * authorizeEvidenceIntake for `caseId`.
 */
export async function registerEvidence(deps: EvidenceDeps, caller: Caller, caseId: string, file: ReceivedFile, metadata: unknown): Promise<EvidenceView> {
  let fields: EvidenceFields;
  let mediaType: string;
  let capture: Awaited<ReturnType<typeof extractCaptureInfo>>;
  try {
    fields = await validateEvidenceMetadata(deps.db, caller.user.id, caseId, metadata);
    mediaType = await sniffMediaType(file.head);
    capture = await extractCaptureInfo(mediaType, file.head);
  } catch (error) {
    await deps.store.abort(file.temp).catch(() => {});
    throw error;
  }

  // Set once the store took the bytes: true when they became the blob, false when it already held them.
  let created = null as boolean | null;
  let recorded = false;
  let view: EvidenceView;
  try {
    view = await deps.db.$transaction(async (tx) => {
      await lockBlob(tx, file.sha256);
      const committed = await deps.store.commit(file.temp, file.sha256);
      created = committed.created;
      const { storageKey } = committed;
      await insertBlobIfAbsent(tx, { sha256: file.sha256, sizeBytes: file.sizeBytes, storageKey });
      const row = await insertEvidence(tx, {
        caseId,
        sha256: file.sha256,
        sizeBytes: file.sizeBytes,
        mediaType,
        originalFilename: file.originalFilename,
        title: fields.title,
        description: fields.description,
        incidentIds: fields.incidentIds,
        source: fields.source,
        acquisition: fields.acquisition,
        collectedAt: fields.collectedAt,
        collectedBy: fields.collectedBy,
        submittedBy: caller.user.id,
        capturedAt: capture.capturedAt,
        captureLat: capture.location?.lat ?? null,
        captureLon: capture.location?.lon ?? null,
        captureMetadata: capture.metadata,
      });
      const view = toEvidenceView(row, []);
      await recordRevision(tx, {
        entityType: 'evidence',
        entityId: row.id,
        caseId,
        version: 1,
        snapshot: revisionSnapshot(view),
        changes: [],
        actorId: caller.user.id,
      });
      await appendCustodyEntry(tx, {
        caseId,
        evidenceId: row.id,
        evidenceSha256: file.sha256,
        action: 'collected',
        actorId: caller.user.id,
        details: { sizeBytes: file.sizeBytes, mediaType, originalFilename: file.originalFilename },
      });
      await audit(tx, caller, {
        action: 'evidence.create',
        targetType: 'evidence',
        targetId: row.id,
        caseId,
        details: { sha256: file.sha256, sizeBytes: file.sizeBytes, mediaType },
      });
      const others = await tx.evidence.findMany({
        where: { caseId, sha256: file.sha256, id: { not: row.id } },
        select: { id: true },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      return { ...view, duplicateOf: others.map((other) => other.id) };
    }, TRANSACTION);
    recorded = true;
  } catch (error) {
    if (created === true) await removeOrphanBlob(deps, file.sha256);
    throw error;
  } finally {
    // Bytes that did not become the blob go outside the transaction (BlobStore.commit); if that
    // fails, the sweep of uploads.expire removes them within a day. A duplicate's copy goes while
    // the answer does: unlinking a large file takes 0.15-0.2 s per GiB on this project's disk, time
    // an investigator re-sending a known video need not wait.
    if (created !== true) {
      const discarded = deps.store.abort(file.temp).catch((error: unknown) => {
        deps.log?.warn({ err: { message: (error as Error).message }, temp: file.temp.id }, 'could not remove the temporary copy of an upload');
      });
      if (!recorded) await discarded;
    }
  }
  await afterCommitIntegrate(deps.db, caseId, deps.log);
  return view;
}

/**
 * After a failed transaction, removes a blob this intake created unless a row now references it
 * (another upload of the same bytes may have committed meanwhile: the lock orders us).
 */
export async function removeOrphanBlob(deps: EvidenceDeps, sha256: string): Promise<void> {
  try {
    await deps.db.$transaction(async (tx) => {
      await lockBlob(tx, sha256);
      if (!(await blobIsRecorded(tx, sha256))) await deps.store.remove(sha256);
    }, TRANSACTION);
  } catch (error) {
    // The database is unreachable: we cannot know whether another row uses these bytes, so they
    // stay (an unreferenced blob is harmless; a referenced one removed would be a loss).
    deps.log?.error({ err: { message: (error as Error).message }, sha256 }, 'could not check an unreferenced blob after a failed intake');
  }
}

/**
 * For tus: a finished upload (a local file the service wrote) becomes evidence exactly as a
 * multipart upload does. The fields are checked first (a 400 leaves the file where it is, so the
 * client can retry `complete`); then the file is moved, not copied, into the store, which owns it
 * from then on (a later failure removes it, as for multipart). `file.known` is the hash its writer
 * computed as it wrote the bytes; without it (or when the length differs) the file is read once
 * and hashed.
 */
export async function registerEvidenceFromFile(
  deps: EvidenceDeps,
  caller: Caller,
  caseId: string,
  file: { path: string; originalFilename: string; known?: KnownDigest | null },
  metadata: unknown,
): Promise<EvidenceView> {
  await validateEvidenceMetadata(deps.db, caller.user.id, caseId, metadata);
  let blob: IngestedBlob;
  try {
    blob = await adoptFinishedFile(deps.store, file.path, deps.config.maxUploadBytes, file.known);
  } catch (error) {
    if (error instanceof BlobTooLargeError) throw payloadTooLarge(deps.config.maxUploadBytes);
    throw error;
  }
  return registerEvidence(deps, caller, caseId, { ...blob, originalFilename: safeOriginalFilename(file.originalFilename) }, metadata);
}
