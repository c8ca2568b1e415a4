// Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s), the secret sealed with the
// master key. A code is accepted once: its time step must be later than the last one used.
import { Secret, TOTP } from 'otpauth';
import { openRecord, sealRecord, type MasterKeyring, type SealedRecord } from '../../crypto/index.ts';

const ISSUER = 'Custodia';
const PERIOD = 30;
/** Steps either side of now that are accepted, for clocks that drift. */
const WINDOW = 1;

function totpFor(secret: Secret, label = ''): TOTP {
  return new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret });
}

const aadFor = (userId: string) => `totp:${userId}`;

export function newTotpSecret(email: string): { base32: string; uri: string; raw: Buffer } {
  const secret = new Secret({ size: 20 });
  return { base32: secret.base32, uri: totpFor(secret, email).toString(), raw: Buffer.from(secret.bytes) };
}

export function sealTotpSecret(userId: string, raw: Buffer, ring: MasterKeyring): SealedRecord {
  return sealRecord(raw, aadFor(userId), ring);
}

export function openTotpSecret(userId: string, sealed: SealedRecord, ring: MasterKeyring): Buffer {
  return openRecord(sealed, aadFor(userId), ring);
}

/** The time step the code belongs to, or null when it is not a current code. */
export function totpStep(raw: Buffer, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const totp = totpFor(new Secret({ buffer: Uint8Array.from(raw).buffer }));
  const delta = totp.validate({ token: code, timestamp: now, window: WINDOW });
  if (delta === null) return null;
  return totp.counter({ timestamp: now }) + delta;
}

/** The code for a step (tests, and nothing else, need to produce codes). */
export function totpCode(raw: Buffer | string, now = Date.now()): string {
  const secret = typeof raw === 'string' ? Secret.fromBase32(raw) : new Secret({ buffer: Uint8Array.from(raw).buffer });
  return totpFor(secret).generate({ timestamp: now });
}
