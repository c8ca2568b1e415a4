// Passwords: argon2id with OWASP's recommended configuration (19 MiB, t=2, p=1): each login
// costs 19 MiB for ~tens of ms, so concurrent logins cannot push a small field machine out of
// memory. Hashes record their parameters, so older or stronger ones still verify. Every entry
// point (API, CLI) applies the same rule: at least 12 characters.
import argon2 from 'argon2';
import { invalid } from '../../http/errors.ts';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

const OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

// Verified when the account does not exist, so that an unknown email costs the same time.
let dummyHash: Promise<string> | null = null;

/** Computes the dummy hash ahead of the first login, so that the first unknown email is not slower either. */
export function prepareDummyHash(): Promise<void> {
  dummyHash ??= hashPassword('custodia-dummy-password-for-timing');
  return dummyHash.then(() => undefined);
}

export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (hash === null) {
    dummyHash ??= hashPassword('custodia-dummy-password-for-timing');
    await argon2.verify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** Throws a 400 naming `field` when the password is too weak to be accepted. */
export function assertAcceptablePassword(password: string, field = 'body.password'): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) throw invalid(field, `must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw invalid(field, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
}
