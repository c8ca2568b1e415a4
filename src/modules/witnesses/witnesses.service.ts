// Pseudonymous witness records: codes, risk, consent. Identities are in identity.service.ts.
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { invalid } from '../../http/errors.ts';
import { staleVersion } from '../../http/etag.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import { authorize } from '../cases/access.ts';
import { changedFields, listRevisions, recordRevision } from '../revisions/revisions.ts';
import { findWitness, insertWitness, listWitnesses, takeWitnessNumber, updateWitness, witnessCode, type WitnessRow } from './witnesses.repository.ts';
import type { CreateWitnessInput, PatchWitnessInput, WitnessView } from './witnesses.schemas.ts';

export function toWitnessView(row: WitnessRow): WitnessView {
  return {
    id: row.id,
    caseId: row.caseId,
    code: row.code,
    riskLevel: row.riskLevel as WitnessView['riskLevel'],
    consent: {
      interview: row.consentInterview,
      useInProceedings: row.consentUseInProceedings,
      shareWithAccountabilityBodies: row.consentShareWithAccountabilityBodies,
      identityDisclosure: row.consentIdentityDisclosure,
      contactAllowed: row.consentContactAllowed,
      notes: row.consentNotes,
    },
    registeredBy: row.registeredBy,
    hasIdentity: row.identity !== null,
    identityErasedAt: row.identityErasedAt?.toISOString() ?? null,
    retraction: row.retractedAt ? { reason: row.retractionReason ?? '', at: row.retractedAt.toISOString(), by: row.retractedBy } : null,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The record as kept in revisions: what the API shows, without the identity flag (identities are audited, not revised). */
export function witnessSnapshot(view: WitnessView): Record<string, unknown> {
  const { hasIdentity: _hasIdentity, ...snapshot } = view;
  return snapshot;
}

function consentColumns(consent: CreateWitnessInput['consent'] = {}) {
  return {
    ...(consent.interview !== undefined ? { consentInterview: consent.interview } : {}),
    ...(consent.useInProceedings !== undefined ? { consentUseInProceedings: consent.useInProceedings } : {}),
    ...(consent.shareWithAccountabilityBodies !== undefined ? { consentShareWithAccountabilityBodies: consent.shareWithAccountabilityBodies } : {}),
    ...(consent.identityDisclosure !== undefined ? { consentIdentityDisclosure: consent.identityDisclosure } : {}),
    ...(consent.contactAllowed !== undefined ? { consentContactAllowed: consent.contactAllowed } : {}),
    ...(consent.notes !== undefined ? { consentNotes: consent.notes } : {}),
  };
}

export function createWitnessesService(db: Database) {
  async function load(caller: Caller, id: string, action: 'witness.read' | 'witness.write') {
    const row = await findWitness(db, id);
    await authorize(db, caller, action, row?.caseId, { what: 'witness' });
    return row!;
  }

  async function change(caller: Caller, current: WitnessRow, expected: number, data: Parameters<typeof updateWitness>[3]) {
    const before = witnessSnapshot(toWitnessView(current));
    return db.$transaction(async (tx) => {
      const row = await updateWitness(tx, current.id, expected, data);
      if (!row) throw staleVersion();
      const view = toWitnessView(row);
      const after = witnessSnapshot(view);
      await recordRevision(tx, {
        entityType: 'witness',
        entityId: row.id,
        caseId: row.caseId,
        version: row.version,
        snapshot: after,
        changes: changedFields(before, after),
        actorId: caller.user.id,
      });
      return view;
    });
  }

  return {
    async create(caller: Caller, caseId: string, input: CreateWitnessInput): Promise<WitnessView> {
      await authorize(db, caller, 'witness.write', caseId, { what: 'case' });
      return db.$transaction(async (tx) => {
        const number = await takeWitnessNumber(tx, caseId);
        const row = await insertWitness(tx, {
          caseId,
          number,
          code: witnessCode(number),
          riskLevel: input.riskLevel ?? 'medium',
          ...consentColumns(input.consent),
          registeredBy: caller.user.id,
        });
        const view = toWitnessView(row);
        await recordRevision(tx, { entityType: 'witness', entityId: row.id, caseId, version: 1, snapshot: witnessSnapshot(view), changes: [], actorId: caller.user.id });
        return view;
      });
    },

    async list(caller: Caller, caseId: string, limit: number, cursor?: string) {
      await authorize(db, caller, 'witness.read', caseId, { what: 'case' });
      const after = decodeCursor(cursor, ['number']);
      const rows = await listWitnesses(db, caseId, limit, after ? (after[0] as number) : null);
      const page = pageOf(rows, limit, (row) => [row.number]);
      return { items: page.items.map(toWitnessView), nextCursor: page.nextCursor };
    },

    async get(caller: Caller, id: string): Promise<WitnessView> {
      return toWitnessView(await load(caller, id, 'witness.read'));
    },

    async update(caller: Caller, id: string, expected: number, patch: PatchWitnessInput): Promise<WitnessView> {
      const current = await load(caller, id, 'witness.write');
      return change(caller, current, expected, { ...(patch.riskLevel ? { riskLevel: patch.riskLevel } : {}), ...consentColumns(patch.consent) });
    },

    async retract(caller: Caller, id: string, expected: number, reason: string): Promise<WitnessView> {
      const current = await load(caller, id, 'witness.write');
      if (current.retractedAt) throw invalid('body.reason', 'the witness is already retracted');
      return change(caller, current, expected, { retractedAt: new Date(), retractedBy: caller.user.id, retractionReason: reason });
    },

    async revisions(caller: Caller, id: string, limit: number, cursor?: string) {
      const row = await findWitness(db, id);
      await authorize(db, caller, 'revisions.read', row?.caseId, { what: 'witness' });
      return listRevisions(db, 'witness', id, limit, cursor);
    },
  };
}
