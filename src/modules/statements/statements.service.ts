// Statements: what a witness said, when, where, to whom, and what they consented to.
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { invalid, invalidFields, type FieldError } from '../../http/errors.ts';
import { staleVersion } from '../../http/etag.ts';
import { decodeCursor, encodeCursor } from '../../http/pagination.ts';
import { authorize, caseRoleOf } from '../cases/access.ts';
import { changedFields, listRevisions, recordRevision } from '../revisions/revisions.ts';
import { findStatement, incidentsOfCase, insertStatement, listStatements, updateStatement, witnessCaseOf, type StatementRow } from './statements.repository.ts';
import type { CreateStatementInput, PatchStatementInput, StatementView } from './statements.schemas.ts';
import { UUID } from '../../http/uuid.ts';

export function toStatementView(row: StatementRow): StatementView {
  return {
    id: row.id,
    caseId: row.caseId,
    witnessId: row.witnessId,
    incidentIds: row.incidents.map((link) => link.incidentId),
    takenAt: row.takenAt.toISOString(),
    place: row.place,
    language: row.language,
    interpreter: row.interpreter,
    interviewerId: row.interviewerId,
    narrative: row.narrative,
    consent: {
      useInProceedings: row.consentUseInProceedings,
      shareWithAccountabilityBodies: row.consentShareWithAccountabilityBodies,
      restrictions: row.consentRestrictions,
    },
    retraction: row.retractedAt ? { reason: row.retractionReason ?? '', at: row.retractedAt.toISOString(), by: row.retractedBy } : null,
    createdBy: row.createdBy,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The canonical form of a well-formed BCP 47 tag, or null. */
export function canonicalLanguageTag(tag: string): string | null {
  if (!/^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/.test(tag)) return null;
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? null;
  } catch {
    return null;
  }
}

const UNIQUE_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/;
export function createStatementsService(db: Database) {
  async function load(caller: Caller, id: string, action: 'statement.read' | 'statement.write') {
    const row = await findStatement(db, id);
    await authorize(db, caller, action, row?.caseId, { what: 'statement' });
    return row!;
  }

  /** The references of a statement must stay inside its case; each failure names its field. */
  async function checkReferences(caseId: string, refs: { witnessId?: string; incidentIds?: string[]; interviewerId?: string; language?: string; takenAt?: string }) {
    const errors: FieldError[] = [];
    if (refs.witnessId !== undefined && (await witnessCaseOf(db, refs.witnessId)) !== caseId) {
      errors.push({ path: 'body.witnessId', message: 'is not a witness of this case' });
    }
    if (refs.incidentIds?.length) {
      const found = await incidentsOfCase(db, caseId, refs.incidentIds);
      refs.incidentIds.forEach((id, i) => {
        if (!found.has(id)) errors.push({ path: `body.incidentIds.${i}`, message: 'is not an incident of this case' });
      });
    }
    if (refs.interviewerId !== undefined && (await caseRoleOf(db, refs.interviewerId, caseId)) === null) {
      errors.push({ path: 'body.interviewerId', message: 'is not a member of this case' });
    }
    if (refs.language !== undefined && canonicalLanguageTag(refs.language) === null) {
      errors.push({ path: 'body.language', message: 'must be a BCP 47 language tag such as "fr", "sw-CD" or "ar-Latn"' });
    }
    if (refs.takenAt !== undefined && new Date(refs.takenAt).getTime() > Date.now() + 5 * 60_000) {
      errors.push({ path: 'body.takenAt', message: 'must not be in the future' });
    }
    if (errors.length) throw invalidFields(errors);
  }

  async function change(caller: Caller, current: StatementRow, expected: number, data: Parameters<typeof updateStatement>[3], incidentIds?: string[]) {
    const before = toStatementView(current);
    return db.$transaction(async (tx) => {
      const row = await updateStatement(tx, current.id, expected, data, incidentIds);
      if (!row) throw staleVersion();
      const after = toStatementView(row);
      await recordRevision(tx, {
        entityType: 'statement',
        entityId: row.id,
        caseId: row.caseId,
        version: row.version,
        snapshot: after,
        changes: changedFields(before, after),
        actorId: caller.user.id,
      });
      return after;
    });
  }

  return {
    async create(caller: Caller, caseId: string, input: CreateStatementInput): Promise<StatementView> {
      await authorize(db, caller, 'statement.write', caseId, { what: 'case' });
      const interviewerId = input.interviewerId ?? caller.user.id;
      const incidentIds = input.incidentIds ?? [];
      await checkReferences(caseId, { witnessId: input.witnessId, incidentIds, interviewerId, language: input.language, takenAt: input.takenAt });
      return db.$transaction(async (tx) => {
        const row = await insertStatement(
          tx,
          {
            caseId,
            witnessId: input.witnessId,
            takenAt: new Date(input.takenAt),
            place: input.place ?? '',
            language: canonicalLanguageTag(input.language)!,
            interpreter: input.interpreter ?? null,
            interviewerId,
            narrative: input.narrative,
            consentUseInProceedings: input.consent?.useInProceedings ?? false,
            consentShareWithAccountabilityBodies: input.consent?.shareWithAccountabilityBodies ?? false,
            consentRestrictions: input.consent?.restrictions ?? null,
            createdBy: caller.user.id,
          },
          incidentIds,
        );
        const view = toStatementView(row);
        await recordRevision(tx, { entityType: 'statement', entityId: row.id, caseId, version: 1, snapshot: view, changes: [], actorId: caller.user.id });
        return view;
      });
    },

    async list(caller: Caller, caseId: string, limit: number, cursor?: string) {
      await authorize(db, caller, 'statement.read', caseId, { what: 'case' });
      const key = decodeCursor(cursor, ['string', 'string']) as [string, string] | null;
      if (key && !(UNIQUE_INSTANT.test(key[0]) && UUID.test(key[1]))) throw invalid('querystring.cursor', 'is not a cursor this list gave out');
      const rows = await listStatements(db, caseId, limit, key ? { at: key[0], id: key[1] } : null);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((entry) => toStatementView(entry.row)),
        nextCursor: rows.length > limit && last ? encodeCursor([last.key.at, last.key.id]) : null,
      };
    },

    async get(caller: Caller, id: string): Promise<StatementView> {
      return toStatementView(await load(caller, id, 'statement.read'));
    },

    async update(caller: Caller, id: string, expected: number, patch: PatchStatementInput): Promise<StatementView> {
      const current = await load(caller, id, 'statement.write');
      await checkReferences(current.caseId, {
        ...(patch.witnessId !== undefined ? { witnessId: patch.witnessId } : {}),
        ...(patch.incidentIds !== undefined ? { incidentIds: patch.incidentIds } : {}),
        ...(patch.interviewerId !== undefined ? { interviewerId: patch.interviewerId } : {}),
        ...(patch.language !== undefined ? { language: patch.language } : {}),
        ...(patch.takenAt !== undefined ? { takenAt: patch.takenAt } : {}),
      });
      const consent = patch.consent ?? {};
      return change(
        caller,
        current,
        expected,
        {
          ...(patch.witnessId !== undefined ? { witnessId: patch.witnessId } : {}),
          ...(patch.takenAt !== undefined ? { takenAt: new Date(patch.takenAt) } : {}),
          ...(patch.place !== undefined ? { place: patch.place } : {}),
          ...(patch.language !== undefined ? { language: canonicalLanguageTag(patch.language)! } : {}),
          ...(patch.interpreter !== undefined ? { interpreter: patch.interpreter } : {}),
          ...(patch.interviewerId !== undefined ? { interviewerId: patch.interviewerId } : {}),
          ...(patch.narrative !== undefined ? { narrative: patch.narrative } : {}),
          ...(consent.useInProceedings !== undefined ? { consentUseInProceedings: consent.useInProceedings } : {}),
          ...(consent.shareWithAccountabilityBodies !== undefined ? { consentShareWithAccountabilityBodies: consent.shareWithAccountabilityBodies } : {}),
          ...(consent.restrictions !== undefined ? { consentRestrictions: consent.restrictions } : {}),
        },
        patch.incidentIds,
      );
    },

    async retract(caller: Caller, id: string, expected: number, reason: string): Promise<StatementView> {
      const current = await load(caller, id, 'statement.write');
      if (current.retractedAt) throw invalid('body.reason', 'the statement is already retracted');
      return change(caller, current, expected, { retractedAt: new Date(), retractedBy: caller.user.id, retractionReason: reason });
    },

    async revisions(caller: Caller, id: string, limit: number, cursor?: string) {
      const row = await findStatement(db, id);
      await authorize(db, caller, 'statement.read', row?.caseId, { what: 'statement' });
      await authorize(db, caller, 'revisions.read', row!.caseId, { what: 'statement' });
      return listRevisions(db, 'statement', id, limit, cursor);
    },
  };
}
