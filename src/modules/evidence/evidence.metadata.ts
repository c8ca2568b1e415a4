// Validation of the evidence fields sent with the bytes or in a PATCH: the shape (TypeBox), then
// the rules that need the database (vocabulary codes, case members, incidents of the same case).
import { Compile } from 'typebox/compile';
import type { Db } from '../../database/client.ts';
import { type FieldError, invalidFields } from '../../http/errors.ts';
import { incidentIdsOfCase, membersAmong } from './evidence.repository.ts';
import { EvidenceMetadataInput, EvidencePatch } from './evidence.schemas.ts';
import { isVocabularyCode } from '../vocabularies/vocabularies.ts';

/** Evidence fields after validation, in their stored form. */
export interface EvidenceFields {
  title: string;
  description: string;
  incidentIds: string[];
  source: { kind: string; name: string; url?: string };
  acquisition: string;
  collectedAt: Date;
  collectedBy: string;
}

const checkMetadata = Compile(EvidenceMetadataInput);
const checkPatch = Compile(EvidencePatch);

interface SchemaIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function schemaErrors(issues: Iterable<unknown>, prefix: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const raw of issues) {
    const issue = raw as SchemaIssue;
    if (issue.keyword === 'boolean') continue; // reported again as additionalProperties
    const base = `${prefix}${issue.instancePath.replace(/\//g, '.')}`;
    if (issue.keyword === 'required' && Array.isArray(issue.params.requiredProperties)) {
      for (const name of issue.params.requiredProperties) errors.push({ path: `${base}.${String(name)}`, message: 'is required' });
    } else if (issue.keyword === 'additionalProperties' && Array.isArray(issue.params.additionalProperties)) {
      for (const name of issue.params.additionalProperties) errors.push({ path: `${base}.${String(name)}`, message: 'is not a known property' });
    } else {
      errors.push({ path: base, message: issue.message });
    }
    if (errors.length >= 20) break;
  }
  return errors.length > 0 ? errors : [{ path: prefix, message: 'is not valid' }];
}

function parseDate(text: string, path: string, errors: FieldError[]): Date {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) errors.push({ path, message: 'is not a valid date-time' });
  return date;
}

/** Rules that need the database, shared by intake and PATCH. */
async function checkReferences(
  db: Db,
  caseId: string,
  fields: { acquisition?: string; sourceKind?: string; collectedBy?: string; incidentIds?: string[] },
  prefix: string,
  errors: FieldError[],
): Promise<void> {
  if (fields.acquisition !== undefined && !isVocabularyCode('acquisition-methods', fields.acquisition)) {
    errors.push({ path: `${prefix}.acquisition`, message: 'is not a code of the acquisition-methods vocabulary' });
  }
  if (fields.sourceKind !== undefined && !isVocabularyCode('source-kinds', fields.sourceKind)) {
    errors.push({ path: `${prefix}.source.kind`, message: 'is not a code of the source-kinds vocabulary' });
  }
  if (fields.collectedBy !== undefined && !(await membersAmong(db, caseId, [fields.collectedBy])).has(fields.collectedBy)) {
    errors.push({ path: `${prefix}.collectedBy`, message: 'is not a member of this case' });
  }
  if (fields.incidentIds && fields.incidentIds.length > 0) {
    const known = await incidentIdsOfCase(db, caseId, fields.incidentIds);
    fields.incidentIds.forEach((id, i) => {
      if (!known.has(id)) errors.push({ path: `${prefix}.incidentIds.${i}`, message: 'is not an incident of this case' });
    });
  }
}

/** Parses the multipart `metadata` field (JSON text, or already parsed when sent as application/json). */
export function parseMetadataField(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw invalidFields([{ path: 'metadata', message: 'is not valid JSON' }]);
  }
}

/**
 * The evidence fields of a new item: every problem is a 400 naming the field (`metadata.title`).
 * `collectedBy` defaults to the caller and must be a member of the case.
 */
export async function validateEvidenceMetadata(db: Db, callerId: string, caseId: string, raw: unknown, prefix = 'metadata'): Promise<EvidenceFields> {
  if (!checkMetadata.Check(raw)) throw invalidFields(schemaErrors(checkMetadata.Errors(raw), prefix));
  const input = raw;
  const errors: FieldError[] = [];
  const collectedAt = parseDate(input.collectedAt, `${prefix}.collectedAt`, errors);
  const collectedBy = input.collectedBy ?? callerId;
  const incidentIds = (input.incidentIds ?? []).map((id) => id.toLowerCase());
  await checkReferences(db, caseId, { acquisition: input.acquisition, sourceKind: input.source.kind, collectedBy, incidentIds }, prefix, errors);
  if (errors.length > 0) throw invalidFields(errors);
  return {
    title: input.title,
    description: input.description ?? '',
    incidentIds,
    source: { kind: input.source.kind, name: input.source.name ?? '', ...(input.source.url ? { url: input.source.url } : {}) },
    acquisition: input.acquisition,
    collectedAt,
    collectedBy: collectedBy.toLowerCase(),
  };
}

/** A PATCH body, validated: only the fields present. */
export async function validateEvidencePatch(db: Db, caseId: string, raw: unknown): Promise<Partial<EvidenceFields>> {
  if (!checkPatch.Check(raw)) throw invalidFields(schemaErrors(checkPatch.Errors(raw), 'body'));
  const input = raw;
  const errors: FieldError[] = [];
  const out: Partial<EvidenceFields> = {};
  if (input.title !== undefined) out.title = input.title;
  if (input.description !== undefined) out.description = input.description;
  if (input.acquisition !== undefined) out.acquisition = input.acquisition;
  if (input.collectedAt !== undefined) out.collectedAt = parseDate(input.collectedAt, 'body.collectedAt', errors);
  if (input.collectedBy !== undefined) out.collectedBy = input.collectedBy.toLowerCase();
  if (input.incidentIds !== undefined) out.incidentIds = input.incidentIds.map((id) => id.toLowerCase());
  if (input.source !== undefined) {
    out.source = { kind: input.source.kind, name: input.source.name ?? '', ...(input.source.url ? { url: input.source.url } : {}) };
  }
  await checkReferences(
    db,
    caseId,
    { acquisition: out.acquisition, sourceKind: out.source?.kind, collectedBy: out.collectedBy, incidentIds: out.incidentIds },
    'body',
    errors,
  );
  if (errors.length > 0) throw invalidFields(errors);
  return out;
}
