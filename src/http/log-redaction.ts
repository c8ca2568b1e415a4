// Redaction of every log line the service, its worker and the CLI write: the secrets' last line
// of defence. No import of Fastify here: the CLI loads this and must start fast.
import type { LoggerOptions } from 'pino';

/**
 * What never reaches a log line, matched on the names of keys at any depth, whatever their case:
 * - a key whose name contains one of SECRET_WORDS (password, newPassword, passwordHash,
 *   x-auth-token, proxy-authorization, set-cookie…);
 * - a key named one of SECRET_NAMES;
 * - a key named one of NESTED_SECRET_NAMES below the top level (a TOTP `code` in a body is a
 *   secret; the top-level `code` of a "request refused" line is a problem code), except the
 *   code of an error itself (an object with a `message`, inside `err` or `error`) when it is
 *   shaped like one (ERROR_CODE: ENOSPC, ERR_…, P2002, a SQLSTATE, a problem code): an operator
 *   needs it, and a one-time password is six digits;
 * - a key named one of ERROR_SECRET_NAMES inside an error (what an HTTP client's error keeps of
 *   its request: headers, credentials).
 * The value, whatever it is (text, number, object), becomes REDACTED.
 */
export const SECRET_WORDS = ['password', 'passphrase', 'token', 'secret', 'totp', 'authorization', 'cookie'] as const;
export const SECRET_NAMES = ['fullname', 'contact', 'dateofbirth', 'masterkey', 'previousmasterkeys', 'signingkey', 'privatekey'] as const;
export const NESTED_SECRET_NAMES = ['code'] as const;
export const ERROR_SECRET_NAMES = ['config'] as const;
export const REDACTED = '[redacted]';
/**
 * The codes errors carry: an errno name (ENOSPC, ECONNREFUSED), a library's (ERR_…, FST_ERR_…,
 * UND_ERR_…), Prisma's (P2002), a SQLSTATE (23505, 57P01), one of our problem codes (not_found).
 */
export const ERROR_CODE = /^(?:E[A-Z]{2,14}|(?:[A-Z]{2,5}_)?ERR_[A-Z0-9_]{1,60}|P\d{4}|[0-9A-Z]{5}|[a-z]{2,30}(?:_[a-z]{2,30}){0,5})$/;

const ERROR_KEYS = new Set(['err', 'error']);
// One case folding (Unicode's, flag u) for the scan of a line and the test of a key, so that the
// scan never misses a key the test would redact.
const any = (names: readonly string[]) => `(?:${names.join('|')})`;
const secretWord = new RegExp(any(SECRET_WORDS), 'iu');
const secretName = new RegExp(`^${any(SECRET_NAMES)}$`, 'iu');
const nestedSecretName = new RegExp(`^${any(NESTED_SECRET_NAMES)}$`, 'iu');
const errorSecretName = new RegExp(`^${any(ERROR_SECRET_NAMES)}$`, 'iu');

/**
 * Whether a line may hold a key to redact. JSON writes the letters of a key as they are, so a line
 * where none of the words or `"name"`s appears holds no such key and is passed on as it is, at the
 * cost of one linear scan (most lines). A line where one appears elsewhere (`/me/password` in a
 * path) costs a parse, and comes out unchanged.
 */
const maybeSecret = new RegExp(`${any(SECRET_WORDS)}|"${any([...SECRET_NAMES, ...NESTED_SECRET_NAMES, ...ERROR_SECRET_NAMES])}"`, 'iu');

function isSecret(record: Record<string, unknown>, key: string, depth: number, inError: boolean): boolean {
  if (secretWord.test(key) || secretName.test(key) || (inError && errorSecretName.test(key))) return true;
  if (depth === 0 || !nestedSecretName.test(key)) return false;
  const value = record[key];
  const isErrorsOwnCode = inError && typeof record.message === 'string' && typeof value === 'string' && ERROR_CODE.test(value);
  return !isErrorsOwnCode;
}

/** Redacts in place; answers whether anything was. */
function scrub(value: unknown, depth: number, inError: boolean): boolean {
  if (value === null || typeof value !== 'object') return false;
  let changed = false;
  if (Array.isArray(value)) {
    for (const item of value) if (scrub(item, depth + 1, inError)) changed = true;
    return changed;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (isSecret(record, key, depth, inError)) {
      record[key] = REDACTED;
      changed = true;
    } else if (scrub(record[key], depth + 1, inError || ERROR_KEYS.has(key))) {
      changed = true;
    }
  }
  return changed;
}

/**
 * The last step of every log line (pino's streamWrite hook): the finished JSON line, with every
 * secret key's value replaced, whatever put it there (a logged object, a child's bindings, an
 * error's own properties, a serializer). A line that is not JSON is not written: a notice is.
 */
export function redactLine(line: string): string {
  if (!maybeSecret.test(line)) return line;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return `${JSON.stringify({ level: 50, time: Date.now(), msg: 'a log line that is not JSON was withheld' })}\n`;
  }
  return scrub(parsed, 0, false) ? `${JSON.stringify(parsed)}\n` : line;
}

/** pino options for every logger of the service: the level, and redaction. */
export function baseLogOptions(level: string): LoggerOptions {
  return { level, hooks: { streamWrite: redactLine } };
}
