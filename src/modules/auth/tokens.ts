// Bearer tokens: 256 random bits, shown once, stored only as their SHA-256.
import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'cst_';

export function newToken(): { token: string; hash: Buffer } {
  const token = PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function looksLikeToken(value: string): boolean {
  return value.startsWith(PREFIX) && value.length === PREFIX.length + 43;
}
