// Export requests and reads: who may ask for which redaction, who may see an export, downloads.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { AppError, conflict, invalidFields, notFound, type FieldError } from '../../http/errors.ts';
import type { BlobStore } from '../../storage/index.ts';
import { audit } from '../audit/audit.ts';
import { appendCustodyEvent } from '../custody/custody.append.ts';
import { authorize, caseRoleOf } from '../cases/access.ts';
import { roleMay } from '../cases/case-permissions.ts';
import { parseRange } from '../evidence/evidence.range.ts';
import type { BundleSegment, Redaction } from './bundle/bundle-writer.ts';
import { BundleIntegrityError, bundleStream, segmentsInRange } from './bundle/bundle-stream.ts';
import { enqueueExport } from './exports.queue.ts';
import { evidenceOfCase, findExport, incidentsOfCase, insertExport, type ExportRow, type ExportStatus } from './exports.repository.ts';
import type { ExportScope } from './exports.records.ts';

export interface ExportsDeps {
  db: Database;
  config: Config;
  store: BlobStore;
  log?: { error(obj: object, msg?: string): void };
}

export interface ExportView {
  id: string;
  caseId: string;
  status: ExportStatus;
  progress: number;
  bytes: number;
  sha256?: string;
  error?: string;
  redaction: Redaction;
  createdAt: string;
  createdBy: string;
}

export function toExportView(row: ExportRow): ExportView {
  return {
    id: row.id,
    caseId: row.caseId,
    status: row.status as ExportStatus,
    progress: row.progress,
    bytes: Number(row.bytes),
    ...(row.status === 'done' && row.sha256 ? { sha256: row.sha256 } : {}),
    ...(row.error ? { error: row.error } : {}),
    redaction: row.redaction as Redaction,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
  };
}

const TRANSACTION = { maxWait: 10_000, timeout: 30_000 };

export async function createExport(deps: ExportsDeps, caller: Caller, caseId: string, input: { scope?: ExportScope; redaction?: Redaction }) {
  const redaction = input.redaction ?? 'protect_witnesses';
  const refusal = { action: 'export.create', targetType: 'case', targetId: caseId };
  await authorize(deps.db, caller, 'export.create', caseId, { what: 'case', auditRefusal: refusal });
  if (redaction === 'full') await authorize(deps.db, caller, 'export.create_full', caseId, { what: 'case', auditRefusal: refusal });

  const incidentIds = [...new Set((input.scope?.incidentIds ?? []).map((id) => id.toLowerCase()))];
  const evidenceIds = [...new Set((input.scope?.evidenceIds ?? []).map((id) => id.toLowerCase()))];
  const knownIncidents = await incidentsOfCase(deps.db, caseId, incidentIds);
  const knownEvidence = await evidenceOfCase(deps.db, caseId, evidenceIds);
  const errors: FieldError[] = [
    ...incidentIds.flatMap((id, i) => (knownIncidents.has(id) ? [] : [{ path: `body.scope.incidentIds.${i}`, message: 'is not an incident of this case' }])),
    ...evidenceIds.flatMap((id, i) => (knownEvidence.has(id) ? [] : [{ path: `body.scope.evidenceIds.${i}`, message: 'is not an evidence item of this case' }])),
  ];
  if (errors.length > 0) throw invalidFields(errors);

  const scope: ExportScope = {
    ...(incidentIds.length ? { incidentIds } : {}),
    ...(evidenceIds.length ? { evidenceIds } : {}),
  };
  const row = await deps.db.$transaction(async (tx) => {
    const created = await insertExport(tx, { id: randomUUID(), caseId, createdBy: caller.user.id, scope, redaction });
    await enqueueExport(tx, deps.config, created.id);
    await audit(tx, caller, {
      action: 'export.create',
      targetType: 'export',
      targetId: created.id,
      caseId,
      details: { redaction, incidents: incidentIds.length, evidence: evidenceIds.length, wholeCase: incidentIds.length + evidenceIds.length === 0 },
    });
    return created;
  }, TRANSACTION);
  return { id: row.id, status: row.status as ExportStatus };
}

/** The export, when the caller may see it: its creator (still allowed to export in the case) or a lead. */
async function visibleExport(deps: ExportsDeps, caller: Caller, id: string): Promise<ExportRow> {
  const row = await findExport(deps.db, id);
  if (!row) throw notFound('export');
  const role = await caseRoleOf(deps.db, caller.user.id, row.caseId);
  const mayRead = roleMay(role, 'export.read_all') || (row.createdBy === caller.user.id && roleMay(role, 'export.create'));
  if (!mayRead) throw notFound('export');
  return row;
}

export async function getExport(deps: ExportsDeps, caller: Caller, id: string): Promise<ExportView> {
  return toExportView(await visibleExport(deps, caller, id));
}

export interface BundleToServe {
  row: ExportRow;
  sizeBytes: number;
  range: { start: number; end: number } | null;
  stream: Readable;
}

/** The blob ranges that make the zip; an export finished before segments existed is one whole blob. */
function bundleSegments(row: ExportRow): BundleSegment[] {
  return (row.segments as BundleSegment[] | null) ?? [{ blob: row.sha256!, start: 0, length: Number(row.bytes) }];
}

/**
 * Opens a finished bundle. Each download is an audit entry, and, before its first byte goes out,
 * an `accessed` custody entry (details: the export, the range) for every evidence item whose
 * bytes it serves: all of the export's items for a whole download, those the range reaches
 * otherwise (a range of an export made before segments existed counts them all).
 */
export async function openBundle(deps: ExportsDeps, caller: Caller, id: string, rangeHeader: string | undefined): Promise<BundleToServe> {
  const row = await visibleExport(deps, caller, id);
  const target = { targetType: 'export', targetId: id, caseId: row.caseId };
  if (row.status !== 'done' || !row.sha256) throw conflict(`The export is ${row.status}: the bundle can be downloaded once it is done.`);
  const sizeBytes = Number(row.bytes);
  const requested = parseRange(rangeHeader, sizeBytes);
  if (requested.kind === 'unsatisfiable') {
    await audit(deps.db, caller, { action: 'export.download', outcome: 'failure', ...target, details: { reason: 'range_not_satisfiable' } });
    throw new AppError('range_not_satisfiable', `The bundle holds ${sizeBytes} bytes.`, { headers: { 'content-range': `bytes */${sizeBytes}` } });
  }
  const range = requested.kind === 'range' ? { start: requested.start, end: requested.end } : null;
  const rangeText = range ? `bytes=${range.start}-${range.end}` : null;
  const segments = bundleSegments(row);
  const served = range ? segmentsInRange(segments, range) : segments;
  for (const blob of new Set(served.map((s) => s.blob))) {
    if (!(await deps.store.exists(blob))) {
      deps.log?.error({ exportId: id }, 'a stored blob of a finished export is missing');
      throw new AppError('service_unavailable', 'The stored bundle cannot be read.');
    }
  }
  const reached = range && row.segments ? new Set(served.flatMap((s) => (s.evidenceId ? [s.evidenceId] : []))) : new Set(row.includedEvidenceIds);
  const items = await deps.db.evidence.findMany({ where: { caseId: row.caseId, id: { in: [...reached] } }, select: { id: true, sha256: true }, orderBy: { id: 'asc' } });
  const stream = bundleStream(deps.store, served, range ? null : row.sha256);
  stream.on('error', (error) => {
    if (!(error instanceof BundleIntegrityError)) return;
    deps.log?.error({ exportId: id, err: { message: error.message } }, 'download stopped: the bundle\'s stored bytes changed since the export');
    audit(deps.db, caller, { action: 'export.download', outcome: 'failure', ...target, details: { reason: 'bundle_integrity' } }).catch(() => {});
  });
  try {
    await audit(deps.db, caller, {
      action: 'export.download',
      ...target,
      details: { sha256: row.sha256, range: rangeText },
    });
    await Promise.all(
      items.map((item) =>
        appendCustodyEvent(deps.db, {
          caseId: row.caseId,
          evidenceId: item.id,
          evidenceSha256: item.sha256,
          action: 'accessed',
          actorId: caller.user.id,
          details: { exportId: id, range: rangeText },
        }),
      ),
    );
  } catch (error) {
    stream.destroy();
    throw error;
  }
  return { row, sizeBytes, range, stream };
}
