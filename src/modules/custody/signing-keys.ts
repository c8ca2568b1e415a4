// The published checkpoint keys: the one this service signs with is `current`; the ones it signed
// with before stay, `retired`, so that every checkpoint ever issued can still be checked.
import type { Database, Transaction } from '../../database/client.ts';

export interface PublishableKey {
  keyId: string;
  name: string;
  publicKeyPem: string;
}

interface Logger {
  warn(obj: object, msg?: string): void;
}

// Serialises key registration across every instance (an instance starting while another rotates).
async function lockSigningKeys(tx: Transaction): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('custodia-signing-keys'))`;
}

async function insertKey(tx: Transaction, key: PublishableKey, status: 'current' | 'retired'): Promise<boolean> {
  const inserted = await tx.$executeRaw`
    INSERT INTO signing_keys (key_id, name, public_key_pem, status, retired_at)
    VALUES (${key.keyId}, ${key.name}, ${key.publicKeyPem}, ${status}, ${status === 'retired' ? new Date() : null})
    ON CONFLICT (key_id) DO NOTHING`;
  return inserted === 1;
}

async function retireOthers(tx: Transaction, currentKeyId: string): Promise<void> {
  await tx.$executeRaw`
    UPDATE signing_keys SET status = 'retired', retired_at = now()
     WHERE status = 'current' AND key_id <> ${currentKeyId}`;
}

/**
 * At start: publishes the key this instance signs with. A key seen for the first time becomes
 * current and retires the previous one; a key already known keeps its status (an instance
 * started with a key that was rotated away is warned about, and does not take it back).
 */
export async function ensureSigningKey(db: Database, key: PublishableKey, log: Logger): Promise<void> {
  const status = await db.$transaction(async (tx) => {
    await lockSigningKeys(tx);
    if (await insertKey(tx, key, 'current')) {
      await retireOthers(tx, key.keyId);
      return 'current';
    }
    const row = await tx.signingKey.findUnique({ where: { keyId: key.keyId }, select: { status: true } });
    return row?.status;
  });
  if (status === 'retired') {
    log.warn({ keyId: key.keyId }, 'this instance signs custody checkpoints with a retired key: load the current one (see `custodia keys rotate-signing`)');
  }
}

/** After a rotation: the new key is current, the old one (published or not yet) retired. */
export async function registerRotation(db: Database, next: PublishableKey, previous: PublishableKey | null): Promise<void> {
  await db.$transaction(async (tx) => {
    await lockSigningKeys(tx);
    if (previous) await insertKey(tx, previous, 'retired');
    await insertKey(tx, next, 'current');
    await tx.$executeRaw`UPDATE signing_keys SET status = 'current', retired_at = NULL WHERE key_id = ${next.keyId}`;
    await retireOthers(tx, next.keyId);
  });
}
