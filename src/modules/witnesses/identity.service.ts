// Witness identities: sealed with a data key of their own (src/crypto/envelope.ts), the witness
// id bound as additional data; readable and writable only by the case lead and the investigator
// who registered the witness. Every read, write, erasure and refused attempt is audited, never
// with the identity in it.
import type { FastifyBaseLogger } from 'fastify';
import { DecryptionError, openRecord, sealRecord } from '../../crypto/index.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { AppError, gone, notFound } from '../../http/errors.ts';
import type { Keys } from '../../keys.ts';
import { audit } from '../audit/audit.ts';
import { authorize } from '../cases/access.ts';
import { changedFields, recordRevision } from '../revisions/revisions.ts';
import { deleteSealedIdentity, findSealedIdentity, findWitness, saveSealedIdentity, updateWitness, type WitnessRow } from './witnesses.repository.ts';
import type { IdentityView, PutIdentityInput } from './witnesses.schemas.ts';
import { toWitnessView, witnessSnapshot } from './witnesses.service.ts';

export const identityAad = (witnessId: string) => `witness-identity:${witnessId}`;

/**
 * Opens a sealed identity outside a request (the export job). No permission check and no audit
 * entry here: the caller has decided who may receive it and records that itself.
 */
export function openSealedIdentity(
  keys: Pick<Keys, 'masterRing'>,
  witnessId: string,
  sealed: { ciphertext: Uint8Array; wrappedKey: Uint8Array; masterKeyId: string },
): IdentityView {
  const plaintext = openRecord(
    { ciphertext: Buffer.from(sealed.ciphertext), wrappedKey: Buffer.from(sealed.wrappedKey), masterKeyId: sealed.masterKeyId },
    identityAad(witnessId),
    keys.masterRing,
  );
  try {
    return JSON.parse(plaintext.toString('utf8')) as IdentityView;
  } finally {
    plaintext.fill(0);
  }
}

type IdentityAction = 'witness.identity.read' | 'witness.identity.write' | 'witness.identity.erase';

export function createIdentityService(db: Database, keys: Keys) {
  const target = (witness: { id: string; caseId: string }) => ({ targetType: 'witness', targetId: witness.id, caseId: witness.caseId });

  /** The witness, when the caller may touch its identity; otherwise an audited 404 (or 403 for an erasure the caller can see). */
  async function admit(caller: Caller, witnessId: string, action: IdentityAction): Promise<WitnessRow> {
    const witness = await findWitness(db, witnessId);
    const permission = action === 'witness.identity.erase' ? 'identity.erase' : 'identity.access';
    const access = await authorize(db, caller, permission, witness?.caseId, {
      what: 'witness identity',
      auditRefusal: { action, targetType: 'witness', targetId: witnessId },
    });
    // Record-level rule: an investigator only for the witnesses they registered.
    if (access.role !== 'lead' && witness!.registeredBy !== caller.user.id) {
      await audit(db, caller, { action, ...target(witness!), outcome: 'denied', details: { permission, rule: 'not the registrar' } });
      throw notFound('witness identity');
    }
    return witness!;
  }

  async function refuseErased(caller: Caller, witness: WitnessRow, action: IdentityAction) {
    if (!witness.identityErasedAt) return;
    await audit(db, caller, { action, ...target(witness), outcome: 'failure', details: { because: 'erased' } });
    throw gone('This witness\'s identity was erased and can never be read again.');
  }

  return {
    async read(caller: Caller, witnessId: string, log: FastifyBaseLogger): Promise<IdentityView> {
      const witness = await admit(caller, witnessId, 'witness.identity.read');
      await refuseErased(caller, witness, 'witness.identity.read');
      const sealed = await findSealedIdentity(db, witnessId);
      if (!sealed) {
        await audit(db, caller, { action: 'witness.identity.read', ...target(witness), outcome: 'failure', details: { because: 'none recorded' } });
        throw notFound('witness identity');
      }
      let identity: IdentityView;
      try {
        const plaintext = openRecord(
          { ciphertext: Buffer.from(sealed.ciphertext), wrappedKey: Buffer.from(sealed.wrappedKey), masterKeyId: sealed.masterKeyId },
          identityAad(witnessId),
          keys.masterRing,
        );
        identity = JSON.parse(plaintext.toString('utf8')) as IdentityView;
        plaintext.fill(0);
      } catch (error) {
        const reason = error instanceof DecryptionError ? error.reason : 'unreadable';
        log.error({ witnessId, masterKeyId: sealed.masterKeyId, reason }, 'a witness identity does not decrypt');
        await audit(db, caller, { action: 'witness.identity.read', ...target(witness), outcome: 'failure', details: { because: `decryption: ${reason}` } });
        throw new AppError(
          'internal',
          reason === 'unknown-master-key'
            ? 'The identity is sealed under a master key this service does not hold (see CUSTODIA_PREVIOUS_MASTER_KEYS).'
            : 'The stored identity does not authenticate: it was altered or moved. Nothing was disclosed; the operator must investigate.',
        );
      }
      await audit(db, caller, { action: 'witness.identity.read', ...target(witness) });
      return identity;
    },

    async write(caller: Caller, witnessId: string, input: PutIdentityInput): Promise<IdentityView> {
      const witness = await admit(caller, witnessId, 'witness.identity.write');
      await refuseErased(caller, witness, 'witness.identity.write');
      const identity: IdentityView = {
        fullName: input.fullName ?? null,
        contact: input.contact ?? null,
        dateOfBirth: input.dateOfBirth ?? null,
        notes: input.notes ?? null,
      };
      const plaintext = Buffer.from(JSON.stringify(identity), 'utf8');
      const sealed = sealRecord(plaintext, identityAad(witnessId), keys.masterRing);
      plaintext.fill(0);
      await db.$transaction(async (tx) => {
        const existed = (await findSealedIdentity(tx, witnessId)) !== null;
        await saveSealedIdentity(tx, witnessId, sealed, caller.user.id);
        await audit(tx, caller, { action: 'witness.identity.write', ...target(witness), details: { replaced: existed } });
      });
      return identity;
    },

    async erase(caller: Caller, witnessId: string, reason: string): Promise<void> {
      const witness = await admit(caller, witnessId, 'witness.identity.erase');
      await refuseErased(caller, witness, 'witness.identity.erase');
      if (!(await findSealedIdentity(db, witnessId))) {
        await audit(db, caller, { action: 'witness.identity.erase', ...target(witness), outcome: 'failure', details: { because: 'none recorded' } });
        throw notFound('witness identity');
      }
      await db.$transaction(async (tx) => {
        if (!(await deleteSealedIdentity(tx, witnessId))) throw notFound('witness identity');
        const before = witnessSnapshot(toWitnessView(witness));
        const row = await updateWitness(tx, witnessId, witness.version, { identityErasedAt: new Date(), identityErasedBy: caller.user.id });
        if (!row) throw new AppError('conflict', 'The witness changed meanwhile: try again.');
        const after = witnessSnapshot(toWitnessView(row));
        await recordRevision(tx, {
          entityType: 'witness',
          entityId: witnessId,
          caseId: row.caseId,
          version: row.version,
          snapshot: after,
          changes: changedFields(before, after),
          actorId: caller.user.id,
        });
        await audit(tx, caller, { action: 'witness.identity.erase', ...target(witness), details: { reason } });
      });
    },
  };
}
