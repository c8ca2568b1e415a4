// The export job (pg-boss queue `exports.run`): builds one case-file bundle.
//
//   1. take the row for this attempt (queued, or running with a stale heartbeat: a crashed worker);
//   2. once per export, in one transaction: an `exported` custody entry for every item in scope,
//      and the list of those items on the row (a retry reuses both, never appends twice);
//   3. integrate the custody queue, sign a checkpoint covering those entries, gather every entry
//      of the items up to it with its inclusion proof;
//   4. load the records as the API answers them, minus what consent withholds;
//   5. lay out the zip, reading every evidence file once to re-hash it (and for its CRC-32 and
//      the bundle's own hash); store the zip's skeleton (structure and small files) as a blob;
//      mark the row done with the segments that make the zip. Evidence is never copied: a
//      download interleaves the skeleton with the evidence blobs (bundle/bundle-stream.ts).
//
// Only then is the bundle visible (status done, segments set). A crashed attempt leaves at most
// an unreferenced skeleton blob. A mismatch between stored evidence bytes and their recorded hash
// fails the export for good, loudly.
import { Buffer } from 'node:buffer';
import { inclusionProofFrom, subtreeHashes, type CustodyEntry } from '../../custody/index.ts';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Actor } from '../../http/caller.ts';
import type { Keys } from '../../keys.ts';
import { BlobNotFoundError, blobStoreFor, type BlobStore } from '../../storage/index.ts';
import { audit } from '../audit/audit.ts';
import { appendCustodyEntry, integrateCustodyQueue } from '../custody/custody.append.ts';
import { signCheckpoint } from '../custody/checkpoints.ts';
import { leafHashes } from '../custody/custody.repository.ts';
import { assembleBundle, EvidenceIntegrityError, type BundleLogLine, type Redaction } from './bundle/bundle-writer.ts';
import type { EvidenceCsvRow } from './bundle/evidence-csv.ts';
import { claimExport, findExport, updateAttempt, type ExportRow } from './exports.repository.ts';
import { isWholeCase, loadExportRecords, resolveScope, type ExportScope } from './exports.records.ts';

/** A running attempt refreshes its heartbeat this often; a retry may take a row silent for STALE. */
export const HEARTBEAT_MS = 3_000;
export const STALE_SECONDS = 15;
const PROGRESS_INTERVAL_MS = 500;
const SERVICE_VERSION = '0.1.0';
const CUSTODY_TRANSACTION = { maxWait: 30_000, timeout: 300_000 };

export interface ExportJobDeps {
  db: Database;
  config: Config;
  keys: Keys;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  store?: BlobStore;
}

/** Another attempt took the row (this one was presumed dead): stop without touching anything. */
export class ExportTakenOverError extends Error {
  override name = 'ExportTakenOverError';
}

/** The export is being built by a live attempt elsewhere: pg-boss retries later. */
export class ExportBusyError extends Error {
  override name = 'ExportBusyError';
}

const jobActor = (exportId: string): Actor => ({ user: null, requestId: `export-job-${exportId}`, address: 'worker', userAgent: 'custodia-export-job' });

/** The evidence items of this export, with their `exported` custody entries queued once. */
async function recordCustody(deps: ExportJobDeps, row: ExportRow, attempt: number): Promise<string[]> {
  if (row.custodyRecordedAt) return row.includedEvidenceIds;
  const scope = resolveScope(deps.db, row.caseId, row.scope as ExportScope);
  const { evidenceIds } = await scope;
  const items = await deps.db.evidence.findMany({ where: { caseId: row.caseId, id: { in: evidenceIds } }, select: { id: true, sha256: true }, orderBy: { id: 'asc' } });
  await deps.db.$transaction(async (tx) => {
    for (const item of items) {
      await appendCustodyEntry(tx, {
        caseId: row.caseId,
        evidenceId: item.id,
        evidenceSha256: item.sha256,
        action: 'exported',
        actorId: row.createdBy,
        details: { exportId: row.id },
      });
    }
    const { count } = await tx.export.updateMany({
      where: { id: row.id, attempts: attempt, status: 'running' },
      data: { includedEvidenceIds: items.map((i) => i.id), custodyRecordedAt: new Date(), heartbeatAt: new Date() },
    });
    if (count !== 1) throw new ExportTakenOverError('another attempt took this export');
  }, CUSTODY_TRANSACTION);
  return items.map((i) => i.id);
}

type EntryRowRaw = { seq: bigint; entry: string; leaf_hash: Uint8Array };

/** Every entry of the items below the checkpoint's size, each with its inclusion proof. */
async function custodyLines(
  db: Database,
  caseId: string,
  evidenceIds: string[],
  size: number,
  withhold: (entry: CustodyEntry) => string | null,
): Promise<BundleLogLine[]> {
  if (evidenceIds.length === 0) return [];
  const leaves = await leafHashes(db, caseId, size);
  if (leaves.length !== size) throw new Error('the custody log has missing entries; run the custody verification');
  const tree = subtreeHashes(leaves);
  const rows = await db.$queryRaw<EntryRowRaw[]>`
    SELECT seq, entry, leaf_hash FROM custody_entries
     WHERE case_id = ${caseId}::uuid AND evidence_id = ANY(${evidenceIds}::uuid[]) AND seq < ${size}
     ORDER BY seq`;
  return rows.map((row) => {
    const seq = Number(row.seq);
    const entry = JSON.parse(row.entry) as CustodyEntry;
    const proven = { seq, leafHash: Buffer.from(row.leaf_hash).toString('hex'), inclusionProof: inclusionProofFrom(tree, seq, size).map((h) => h.toString('hex')) };
    const reason = withhold(entry);
    return reason === null ? { ...proven, entry } : { ...proven, withheld: reason };
  });
}

function custodySummary(lines: BundleLogLine[], evidenceId: string): string {
  const counts = new Map<string, number>();
  for (const line of lines) {
    if ('entry' in line && line.entry.evidenceId === evidenceId) counts.set(line.entry.action, (counts.get(line.entry.action) ?? 0) + 1);
  }
  return [...counts].map(([action, n]) => (n === 1 ? action : `${action} ×${n}`)).join('; ');
}

async function failExport(deps: ExportJobDeps, row: ExportRow, attempt: number, message: string, details: Record<string, string | number>) {
  await deps.db.$transaction(async (tx) => {
    const owned = await updateAttempt(tx, row.id, attempt, { status: 'failed', error: message, finishedAt: new Date(), heartbeatAt: null });
    if (!owned) return;
    await audit(tx, jobActor(row.id), {
      action: 'export.failed',
      outcome: 'failure',
      targetType: 'export',
      targetId: row.id,
      caseId: row.caseId,
      actorId: null,
      details: { attempt, ...details },
    });
  });
}

/** Runs (or resumes) one export. Resolves when it is done, failed for good, or not this job's to do. */
export async function runExportJob(deps: ExportJobDeps, exportId: string): Promise<void> {
  const claimed = await claimExport(deps.db, exportId, STALE_SECONDS);
  if (!claimed) {
    const current = await findExport(deps.db, exportId);
    // Gone (its creating transaction rolled back after the job was queued), done or failed: nothing to do.
    if (!current || current.status === 'done' || current.status === 'failed') return;
    throw new ExportBusyError(`export ${exportId} is being built by another attempt`);
  }
  const row = claimed;
  const attempt = row.attempts;
  const log = { exportId, caseId: row.caseId, attempt };
  if (attempt > deps.config.exportAttempts) {
    deps.log.error(log, 'export abandoned after too many attempts');
    await failExport(deps, row, attempt, `abandoned after ${attempt - 1} attempts`, { reason: 'too_many_attempts' });
    return;
  }
  deps.log.info(log, 'export started');

  const store = deps.store ?? blobStoreFor(deps.config);

  const abort = new AbortController();
  let lastBeat = Date.now();
  const beat = async (data: Parameters<typeof updateAttempt>[3] = {}) => {
    lastBeat = Date.now();
    const owned = await updateAttempt(deps.db, exportId, attempt, { ...data, heartbeatAt: new Date() });
    if (!owned && !abort.signal.aborted) abort.abort(new ExportTakenOverError('another attempt took this export'));
  };
  const heartbeat = setInterval(() => {
    if (Date.now() - lastBeat >= HEARTBEAT_MS) beat().catch((error: unknown) => deps.log.warn({ ...log, err: { message: (error as Error).message } }, 'export heartbeat failed'));
  }, HEARTBEAT_MS);
  heartbeat.unref();

  try {
    const evidenceIds = await recordCustody(deps, row, attempt);
    await integrateCustodyQueue(deps.db, row.caseId);
    const checkpoint = await signCheckpoint(deps.db, deps.keys, deps.config, row.caseId);
    const scope = row.scope as ExportScope;
    const ids = await resolveScope(deps.db, row.caseId, scope);
    const records = await loadExportRecords(deps.db, deps.keys, {
      caseId: row.caseId,
      redaction: row.redaction as Redaction,
      wholeCase: isWholeCase(scope),
      incidentIds: ids.incidentIds,
      statementIds: ids.statementIds,
      evidenceIds,
    });
    // A signed entry cannot be edited: one that quotes a withheld identity (a file name, a note)
    // travels as its leaf hash and proof only.
    const lines = await custodyLines(deps.db, row.caseId, evidenceIds, checkpoint.size, (entry) =>
      records.redactor.mentions(entry) ? 'mentions a witness identity this export withholds' : null,
    );
    const ownEntries = lines.filter((l) => 'entry' in l && l.entry.action === 'exported' && l.entry.details.exportId === exportId).length;
    if (ownEntries !== evidenceIds.length) throw new Error(`the checkpoint covers ${ownEntries} of this export's ${evidenceIds.length} custody entries`);
    const withheldEntries = lines.length - lines.filter((l) => 'entry' in l).length;
    abort.signal.throwIfAborted();
    const evidenceCsv: EvidenceCsvRow[] = records.evidence.map((e) => ({
      identifier: e.id,
      title: e.title,
      date: e.capturedAt ?? e.collectedAt,
      type: e.mediaType,
      source: e.source.name ? `${e.source.kind}: ${e.source.name}` : e.source.kind,
      acquisitionMethod: e.acquisition,
      collector: e.collectedBy,
      sha256: e.sha256,
      sizeBytes: e.sizeBytes,
      custodySummary: custodySummary(lines, e.id),
      reviewStatus: e.reviewStatus,
    }));

    let lastProgress = 0;
    let progressWrite: Promise<void> = Promise.resolve();
    const bundle = await assembleBundle(
      {
        exportId,
        createdAt: row.createdAt,
        createdBy: row.createdBy,
        scope: scope as Record<string, string[]>,
        redaction: row.redaction as Redaction,
        serviceVersion: SERVICE_VERSION,
        sourceOrganization: deps.config.organization,
        case: records.case,
        counts: { ...records.counts, custodyEntries: { included: lines.length - withheldEntries, withheld: withheldEntries } },
        records: { incidents: records.incidents, statements: records.statements, witnesses: records.witnesses, evidence: records.evidence, reviews: records.reviews },
        evidenceCsv,
        evidenceFiles: records.evidence.map((e) => ({
          evidenceId: e.id,
          originalName: e.originalFilename,
          sha256: e.sha256,
          sizeBytes: e.sizeBytes,
          open: () => store.open(e.sha256),
        })),
        custody: { lines, checkpoint: checkpoint.note },
      },
      {
        signingKey: deps.keys.signing,
        signal: abort.signal,
        onProgress: ({ bytesWritten, estimatedTotalBytes }) => {
          const now = Date.now();
          if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
          lastProgress = now;
          const progress = Math.min(0.99, bytesWritten / Math.max(1, estimatedTotalBytes));
          // One update at a time; a slow database skips updates rather than queueing them.
          progressWrite = progressWrite.then(() => beat({ progress, bytes: BigInt(bytesWritten) })).catch(() => {});
        },
      },
    );
    await progressWrite;
    abort.signal.throwIfAborted();

    const skeleton = await store.createTemp();
    let storageKey: string;
    try {
      await skeleton.write(bundle.skeleton);
      await skeleton.finish();
      ({ storageKey } = await store.commit(skeleton, bundle.skeletonSha256));
    } finally {
      // Gone already when it became the blob; still there when an earlier export stored the same
      // bytes, or on failure. Left there by a failing disk, the uploads.expire sweep removes it.
      await store.abort(skeleton).catch(() => {});
    }
    await deps.db.$transaction(async (tx) => {
      const owned = await updateAttempt(tx, exportId, attempt, {
        status: 'done',
        progress: 1,
        bytes: BigInt(bundle.bytes),
        sha256: bundle.sha256,
        storageKey,
        segments: bundle.segments,
        finishedAt: new Date(),
        heartbeatAt: null,
      });
      if (!owned) throw new ExportTakenOverError('another attempt took this export');
      await audit(tx, jobActor(exportId), {
        action: 'export.done',
        targetType: 'export',
        targetId: exportId,
        caseId: row.caseId,
        actorId: null,
        details: {
          attempt,
          bytes: bundle.bytes,
          sha256: bundle.sha256,
          evidence: evidenceIds.length,
          checkpointSize: checkpoint.size,
          redaction: row.redaction,
          // Which witnesses' identities left in this bundle (ids only, never the identity).
          disclosedWitnessIds: records.disclosedWitnessIds,
        },
      });
      // An identity in a bundle is a disclosure: one entry per witness, in the witness's trail,
      // on behalf of the lead who asked for the full export.
      for (const witnessId of records.disclosedWitnessIds) {
        await audit(tx, jobActor(exportId), {
          action: 'witness.identity.export',
          targetType: 'witness',
          targetId: witnessId,
          caseId: row.caseId,
          actorId: row.createdBy,
          details: { exportId },
        });
      }
    });
    deps.log.info({ ...log, bytes: bundle.bytes, sha256: bundle.sha256 }, 'export done');
  } catch (error) {
    if (error instanceof ExportTakenOverError || abort.signal.reason instanceof ExportTakenOverError) {
      deps.log.warn(log, 'export attempt stopped: another attempt took over');
      return;
    }
    if (error instanceof EvidenceIntegrityError) {
      deps.log.error({ ...log, evidenceId: error.evidenceId, expected: error.expected.sha256, actual: error.actual.sha256 }, 'export failed: stored evidence bytes differ from their recorded hash');
      await failExport(deps, row, attempt, `evidence ${error.evidenceId}: the stored bytes do not match the recorded SHA-256; nothing was exported`, {
        reason: 'evidence_integrity',
        evidenceId: error.evidenceId,
      });
      return;
    }
    if (error instanceof BlobNotFoundError) {
      deps.log.error(log, 'export failed: the stored bytes of an evidence item are missing');
      await failExport(deps, row, attempt, 'the stored bytes of an evidence item are missing; nothing was exported', { reason: 'evidence_missing' });
      return;
    }
    const name = (error as Error)?.name ?? 'Error';
    deps.log.error({ ...log, err: { name, message: (error as Error)?.message } }, 'export attempt failed');
    if (attempt >= deps.config.exportAttempts) {
      await failExport(deps, row, attempt, `failed after ${attempt} attempts (${name})`, { reason: 'error', error: name });
      return;
    }
    // Back to the queue for pg-boss's retry (the row stays owned by no one).
    await updateAttempt(deps.db, exportId, attempt, { status: 'queued', heartbeatAt: null, error: `attempt ${attempt} failed (${name}); retrying` }).catch(() => {});
    throw error;
  } finally {
    clearInterval(heartbeat);
  }
}
