// What an export carries: the records of its scope as the API answers them, minus what consent
// withholds, with witness identities only where the redaction and the witness's consent allow.
import type { Database } from '../../database/client.ts';
import type { Keys } from '../../keys.ts';
import { findCase } from '../cases/cases.repository.ts';
import { duplicatesOf } from '../evidence/evidence.repository.ts';
import type { EvidenceView } from '../evidence/evidence.schemas.ts';
import { toEvidenceView } from '../evidence/evidence.view.ts';
import type { IncidentView } from '../incidents/incidents.schemas.ts';
import { toIncidentView } from '../incidents/incidents.service.ts';
import type { ReviewView } from '../reviews/reviews.schemas.ts';
import { toReviewView } from '../reviews/reviews.service.ts';
import type { StatementView } from '../statements/statements.schemas.ts';
import { toStatementView } from '../statements/statements.service.ts';
import { openSealedIdentity } from '../witnesses/identity.service.ts';
import type { IdentityView, WitnessView } from '../witnesses/witnesses.schemas.ts';
import { toWitnessView } from '../witnesses/witnesses.service.ts';
import type { Redaction } from './bundle/bundle-writer.ts';
import { caseRecordIds, evidenceLinkedTo, statementsLinkedTo } from './exports.repository.ts';

export type ExportScope = { incidentIds?: string[]; evidenceIds?: string[] };

export type ExportedWitness = WitnessView & { identity?: IdentityView };

export interface ExportRecords {
  case: { id: string; reference: string; title: string; description: string; status: string };
  incidents: IncidentView[];
  statements: StatementView[];
  witnesses: ExportedWitness[];
  evidence: EvidenceView[];
  reviews: ReviewView[];
  counts: Record<string, unknown>;
  /** Witnesses whose identity this bundle discloses (for the audit trail). */
  disclosedWitnessIds: string[];
  /** Finds the identities this bundle withholds (in custody entries, which cannot be edited). */
  redactor: IdentityRedactor;
}

export const isWholeCase = (scope: ExportScope) => !scope.incidentIds?.length && !scope.evidenceIds?.length;

/** The ids a scope covers: the whole case, or the union the contract describes. */
export async function resolveScope(db: Database, caseId: string, scope: ExportScope) {
  if (isWholeCase(scope)) return caseRecordIds(db, caseId);
  const incidentIds = [...new Set(scope.incidentIds ?? [])];
  const evidenceIds = [...new Set([...(scope.evidenceIds ?? []), ...(await evidenceLinkedTo(db, caseId, incidentIds))])];
  const statementIds = await statementsLinkedTo(db, caseId, incidentIds);
  return { incidentIds, evidenceIds, statementIds };
}

/** Every string an identity is made of, long enough to search for without false hits. */
function identityStrings(identity: IdentityView): string[] {
  return [identity.fullName, identity.contact, identity.dateOfBirth]
    .map((v) => (v ?? '').normalize('NFC').trim())
    .filter((v) => v.length >= 5);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const REDACTED = '[withheld: witness identity]';

/**
 * Replaces, in every string of a record, the identity strings of witnesses this bundle does not
 * disclose (a statement narrative or an evidence title may quote a name). A safety net: the
 * records carry no identity field, but free text can.
 */
export interface IdentityRedactor {
  redact<T>(value: T): T;
  /** Whether any string in `value` holds a withheld identity string. */
  mentions(value: unknown): boolean;
  readonly count: number;
}

export function identityRedactor(strings: string[]): IdentityRedactor {
  const unique = [...new Set(strings)].sort((a, b) => b.length - a.length);
  const pattern = unique.length === 0 ? null : new RegExp(`(?<![\\p{L}\\p{N}])(?:${unique.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}])`, 'giu');
  let count = 0;
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (!pattern) return value;
      const normalized = value.normalize('NFC');
      return normalized.replace(pattern, () => {
        count++;
        return REDACTED;
      });
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const mentions = (value: unknown): boolean => {
    if (!pattern) return false;
    if (typeof value === 'string') {
      pattern.lastIndex = 0;
      const found = pattern.test(value.normalize('NFC'));
      pattern.lastIndex = 0;
      return found;
    }
    if (Array.isArray(value)) return value.some(mentions);
    if (value !== null && typeof value === 'object') return Object.values(value).some(mentions);
    return false;
  };
  return {
    redact: <T,>(value: T) => walk(value) as T,
    mentions,
    get count() {
      return count;
    },
  };
}

const byCreation = <T extends { createdAt: Date; id: string }>(a: T, b: T) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1);

function bump(counter: Record<string, number>, reason: string) {
  counter[reason] = (counter[reason] ?? 0) + 1;
}

export async function loadExportRecords(
  db: Database,
  keys: Pick<Keys, 'masterRing'>,
  input: { caseId: string; redaction: Redaction; wholeCase: boolean; incidentIds: string[]; statementIds: string[]; evidenceIds: string[] },
): Promise<ExportRecords> {
  const caseRow = await findCase(db, input.caseId);
  if (!caseRow) throw new Error('the exported case no longer exists');

  const incidentRows = (await db.incident.findMany({ where: { caseId: input.caseId, id: { in: input.incidentIds } } })).sort(byCreation);
  const statementRows = (
    await db.statement.findMany({
      where: { caseId: input.caseId, id: { in: input.statementIds } },
      include: { incidents: { select: { incidentId: true }, orderBy: { incidentId: 'asc' } } },
    })
  ).sort(byCreation);
  const evidenceRows = (await db.evidence.findMany({ where: { caseId: input.caseId, id: { in: input.evidenceIds } } })).sort(byCreation);

  // Witnesses: those of the statements in scope (every witness of the case for a whole-case export).
  const witnessIds = [...new Set(statementRows.map((s) => s.witnessId))];
  const witnessRows = (
    await db.witness.findMany({
      where: input.wholeCase ? { caseId: input.caseId } : { caseId: input.caseId, id: { in: witnessIds } },
      include: { identity: { select: { witnessId: true } } },
    })
  ).sort(byCreation);
  const allCaseWitnesses = await db.witness.findMany({ where: { caseId: input.caseId }, select: { id: true } });

  const witnessWithheld: Record<string, number> = {};
  const sharingWitnesses = new Map<string, (typeof witnessRows)[number]>();
  for (const row of witnessRows) {
    if (!row.consentShareWithAccountabilityBodies) bump(witnessWithheld, 'noConsentToShare');
    else sharingWitnesses.set(row.id, row);
  }

  const statementWithheld: Record<string, number> = {};
  const statements: StatementView[] = [];
  for (const row of statementRows) {
    if (!row.consentShareWithAccountabilityBodies) bump(statementWithheld, 'noConsentToShare');
    else if (!sharingWitnesses.has(row.witnessId)) bump(statementWithheld, 'witnessDidNotConsentToShare');
    else statements.push(toStatementView(row));
  }

  // Identities: every one of the case is opened, to search the records for those not disclosed.
  const sealed = await db.witnessIdentity.findMany({ where: { witnessId: { in: allCaseWitnesses.map((w) => w.id) } } });
  const identities = new Map<string, IdentityView>();
  for (const row of sealed) identities.set(row.witnessId, openSealedIdentity(keys, row.witnessId, row));

  const identityCounts: Record<string, number> = {};
  const disclosed = new Map<string, IdentityView>();
  for (const row of sharingWitnesses.values()) {
    const identity = identities.get(row.id);
    if (input.redaction !== 'full') continue;
    if (!row.consentIdentityDisclosure) bump(identityCounts, 'withheldNoConsentToDisclose');
    else if (row.identityErasedAt) bump(identityCounts, 'withheldErased');
    else if (!identity) bump(identityCounts, 'noneRecorded');
    else {
      disclosed.set(row.id, identity);
      bump(identityCounts, 'included');
    }
  }
  if (input.redaction !== 'full') identityCounts.withheldProtectWitnesses = [...sharingWitnesses.values()].filter((w) => w.identity !== null).length;

  const hidden: string[] = [];
  for (const [witnessId, identity] of identities) if (!disclosed.has(witnessId)) hidden.push(...identityStrings(identity));
  const redactor = identityRedactor(hidden);

  const duplicates = await duplicatesOf(db, evidenceRows);
  const evidence = evidenceRows.map((row) => redactor.redact(toEvidenceView(row, duplicates.get(row.id) ?? [])));
  const reviewRows = (await db.review.findMany({ where: { evidenceId: { in: evidenceRows.map((e) => e.id) } } })).sort(byCreation);
  const witnesses: ExportedWitness[] = [...sharingWitnesses.values()].map((row) => {
    const view: ExportedWitness = redactor.redact(toWitnessView(row));
    const identity = disclosed.get(row.id);
    if (identity) view.identity = identity;
    return view;
  });

  const records = {
    incidents: incidentRows.map((row) => redactor.redact(toIncidentView(row))),
    statements: statements.map((s) => redactor.redact(s)),
    witnesses,
    evidence,
    reviews: reviewRows.map((row) => redactor.redact(toReviewView(row))),
  };
  const retracted = (items: { retraction: unknown }[]) => items.filter((i) => i.retraction !== null).length;
  const counts = {
    incidents: { included: records.incidents.length, retracted: retracted(records.incidents) },
    evidence: { included: evidence.length, retracted: retracted(evidence) },
    statements: { included: statements.length, withheld: statementRows.length - statements.length, withheldReasons: statementWithheld },
    witnesses: {
      included: witnesses.length,
      withheld: witnessRows.length - witnesses.length,
      withheldReasons: witnessWithheld,
      identities: identityCounts,
    },
    reviews: { included: records.reviews.length },
    redactedIdentityMentions: redactor.count,
  };
  return {
    case: redactor.redact({ id: caseRow.id, reference: caseRow.reference, title: caseRow.title, description: caseRow.description, status: caseRow.status }),
    ...records,
    counts,
    disclosedWitnessIds: [...disclosed.keys()],
    redactor,
  };
}
