/**
 * Checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note),
 * signed with Ed25519:
 *
 *   <origin>\n<size>\n<base64 root hash>\n[extension lines\n]\n— <key name> <base64(key id ‖ signature)>\n
 */
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { HASH_SIZE } from './merkle.ts';

export type CheckpointSignature = { name: string; keyId: Buffer; signature: Buffer };

export type Checkpoint = {
  origin: string;
  size: number;
  rootHash: Buffer;
  /** Optional lines after the root hash, covered by the signature. */
  extensions: string[];
  /** The signed text: every line up to the blank line, each with its newline. */
  body: string;
  signatures: CheckpointSignature[];
};

export class CheckpointFormatError extends Error {
  override name = 'CheckpointFormatError';
}

const EM_DASH = '\u2014';
const ED25519_SIGNATURE_TYPE = 0x01;
const ED25519_SIGNATURE_BYTES = 64;
// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw key follows.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function fail(message: string): never {
  throw new CheckpointFormatError(message);
}

function decodeBase64(s: string, what: string): Buffer {
  if (!BASE64.test(s)) fail(`${what} is not base64`);
  return Buffer.from(s, 'base64');
}

function assertKeyName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || /[\s+]/u.test(name)) {
    fail('key name must be non-empty, without spaces or "+"');
  }
}

function ed25519PublicKey(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('key must be Ed25519');
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** The raw 32-byte Ed25519 public key of a public (or private) KeyObject. */
export function publicKeyRaw(key: KeyObject): Buffer {
  const der = ed25519PublicKey(key).export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

export function publicKeyPem(key: KeyObject): string {
  return ed25519PublicKey(key).export({ format: 'pem', type: 'spki' }).toString();
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** First 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ raw public key). */
export function keyId(keyName: string, publicKeyRaw32: Uint8Array): Buffer {
  return createHash('sha256')
    .update(keyName, 'utf8')
    .update(Buffer.of(0x0a, ED25519_SIGNATURE_TYPE))
    .update(publicKeyRaw32)
    .digest()
    .subarray(0, 4);
}

export function checkpointBody(origin: string, size: number, rootHash: Uint8Array): string {
  if (typeof origin !== 'string' || origin.length === 0 || origin.includes('\n')) {
    fail('origin must be a non-empty single line');
  }
  if (!Number.isSafeInteger(size) || size < 0) fail('size must be a non-negative integer');
  if (rootHash.length !== HASH_SIZE) fail('root hash must be 32 bytes');
  return `${origin}\n${size}\n${Buffer.from(rootHash).toString('base64')}\n`;
}

/** Parses the body lines (origin, size, root, extensions) of a checkpoint. */
function parseBody(body: string): Omit<Checkpoint, 'body' | 'signatures'> {
  const lines = body.split('\n').slice(0, -1);
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined) fail('checkpoint body has fewer than 3 lines');
  if (origin.length === 0) fail('checkpoint origin is empty');
  if (!DECIMAL.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) fail('checkpoint size is not a decimal integer');
  const rootHash = decodeBase64(rootText, 'checkpoint root hash');
  if (rootHash.length !== HASH_SIZE) fail('checkpoint root hash is not 32 bytes');
  return { origin, size: Number(sizeText), rootHash, extensions };
}

/** Parses a signed-note checkpoint; throws CheckpointFormatError when it is malformed. */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') fail('checkpoint must be a string');
  const split = text.indexOf('\n\n');
  if (split < 0) fail('checkpoint has no blank line before its signatures');
  if (!text.endsWith('\n')) fail('checkpoint must end with a newline');
  const body = text.slice(0, split + 1);
  const parsed = parseBody(body);

  const signatures = text
    .slice(split + 2, -1)
    .split('\n')
    .map((line): CheckpointSignature => {
      const match = /^\u2014 (\S+) (\S+)$/u.exec(line);
      if (match === null) fail(`malformed signature line ${JSON.stringify(line)}`);
      const name = match[1]!;
      const blob = match[2]!;
      if (name.includes('+')) fail('key name contains "+"');
      const bytes = decodeBase64(blob, 'signature');
      if (bytes.length < 5) fail('signature is too short');
      return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
    });
  return { ...parsed, body, signatures };
}

/** Signs a checkpoint body; returns the whole note. `key` may be a SigningKey. */
export function signCheckpoint(body: string, key: { name: string; privateKey: KeyObject }): string {
  assertKeyName(key.name);
  if (!body.endsWith('\n') || body.includes('\n\n')) fail('checkpoint body must be non-empty lines ending in a newline');
  parseBody(body);
  const signature = sign(null, Buffer.from(body, 'utf8'), key.privateKey);
  const id = keyId(key.name, publicKeyRaw(key.privateKey));
  return `${body}\n${EM_DASH} ${key.name} ${Buffer.concat([id, signature]).toString('base64')}\n`;
}

/**
 * True when some signature line by `publicKey` (under `name`, if given) verifies. A
 * malformed note is false; a key that is not Ed25519 throws a TypeError.
 */
export function verifyCheckpoint(text: string, publicKey: KeyObject, name?: string): boolean {
  const raw = publicKeyRaw(publicKey);
  let note: Checkpoint;
  try {
    note = parseCheckpoint(text);
  } catch {
    return false;
  }
  const body = Buffer.from(note.body, 'utf8');
  return note.signatures.some(
    (s) =>
      (name === undefined || s.name === name) &&
      s.keyId.equals(keyId(s.name, raw)) &&
      s.signature.length === ED25519_SIGNATURE_BYTES &&
      verify(null, body, ed25519PublicKey(publicKey), s.signature),
  );
}
