// An evidence row as the contract shapes it.
import type { EvidenceRow } from './evidence.repository.ts';
import type { EvidenceView, ReviewStatus } from './evidence.schemas.ts';

interface StoredSource {
  kind: string;
  name?: string;
  url?: string;
}

export function toEvidenceView(row: EvidenceRow, duplicateOf: string[]): EvidenceView {
  const source = row.source as unknown as StoredSource;
  const view: EvidenceView = {
    id: row.id,
    caseId: row.caseId,
    sha256: row.sha256,
    sizeBytes: Number(row.sizeBytes),
    mediaType: row.mediaType,
    originalFilename: row.originalFilename,
    title: row.title,
    description: row.description,
    incidentIds: row.incidentIds,
    source: { kind: source.kind, name: source.name ?? '', ...(source.url ? { url: source.url } : {}) },
    acquisition: row.acquisition,
    collectedAt: row.collectedAt.toISOString(),
    collectedBy: row.collectedBy,
    captureMetadata: row.captureMetadata as Record<string, unknown>,
    duplicateOf,
    reviewStatus: row.reviewStatus as ReviewStatus,
    retraction:
      row.retractedAt && row.retractionReason !== null
        ? { reason: row.retractionReason, at: row.retractedAt.toISOString(), by: row.retractedBy }
        : null,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
  };
  if (row.capturedAt) view.capturedAt = row.capturedAt.toISOString();
  if (row.captureLat !== null && row.captureLon !== null) view.captureLocation = { lat: row.captureLat, lon: row.captureLon };
  return view;
}

/** The descriptive state kept in revisions (what PATCH may change, plus the retraction). */
export function revisionSnapshot(view: EvidenceView): Record<string, unknown> {
  const { duplicateOf: _duplicates, ...rest } = view;
  return rest;
}
