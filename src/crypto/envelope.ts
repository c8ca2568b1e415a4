import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Envelope encryption for protected records (witness identities).
 *
 * Each record gets a fresh random 32-byte data key. The record is encrypted under the data key,
 * and the data key is wrapped under the service's master key. Erasing a record means destroying
 * its wrapped key; rotating the master key means re-wrapping data keys without touching the
 * ciphertext.
 *
 * Both `ciphertext` and `wrappedKey` use the same self-describing layout:
 *
 *   offset  size  field
 *   0       1     version (0x01 = AES-256-GCM)
 *   1       12    nonce (random)
 *   13      16    GCM authentication tag
 *   29      n     encrypted body (the record, or the 32-byte data key)
 *
 * Additional authenticated data (never stored, recomputed on open), each part length-prefixed:
 *   record:      "custodia/record/v1"   ‖ version ‖ aad
 *   wrapped key: "custodia/key-wrap/v1" ‖ version ‖ masterKeyId ‖ aad
 * so a ciphertext or a wrapped key moved onto another row (another aad), or a wrapped key
 * relabelled with another master key id, fails authentication.
 */

export type MasterKey = { id: string; key: Buffer };

export type MasterKeyring = {
  current: MasterKey;
  byId(id: string): MasterKey | undefined;
};

export type SealedRecord = {
  ciphertext: Buffer;
  wrappedKey: Buffer;
  masterKeyId: string;
};

export type DecryptionFailure = 'unknown-master-key' | 'malformed' | 'authentication-failed';

/** Raised when a sealed record cannot be opened. The message never carries key material or plaintext. */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  readonly reason: DecryptionFailure;
  constructor(reason: DecryptionFailure) {
    super(`cannot open sealed record: ${reason}`);
    this.reason = reason;
  }
}

/** Raised for a key that is not well formed (wrong length, not base64, wrong type). */
export class InvalidKeyError extends Error {
  override readonly name = 'InvalidKeyError';
}

const VERSION = 0x01;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES + TAG_BYTES;
const RECORD_LABEL = 'custodia/record/v1';
const WRAP_LABEL = 'custodia/key-wrap/v1';
const KEY_ID_LABEL = 'custodia/master-key-id/v1';

/** Length-prefixed concatenation, so that no two different part lists encode alike. */
function encodeParts(parts: (string | Buffer)[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    chunks.push(length, bytes);
  }
  return Buffer.concat(chunks);
}

const versionByte = Buffer.from([VERSION]);

function recordAad(aad: string): Buffer {
  return encodeParts([RECORD_LABEL, versionByte, aad]);
}

function wrapAad(masterKeyId: string, aad: string): Buffer {
  return encodeParts([WRAP_LABEL, versionByte, masterKeyId, aad]);
}

function assertKey(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new InvalidKeyError(`${what} must be exactly ${KEY_BYTES} bytes`);
  }
}

function encrypt(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([versionByte, nonce, cipher.getAuthTag(), body]);
}

function decrypt(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (!Buffer.isBuffer(sealed) || sealed.length < HEADER_BYTES || sealed[0] !== VERSION) {
    throw new DecryptionError('malformed');
  }
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const tag = sealed.subarray(1 + NONCE_BYTES, HEADER_BYTES);
  const body = sealed.subarray(HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // OpenSSL's message says nothing useful; replace it so nothing else can ever leak through.
    throw new DecryptionError('authentication-failed');
  }
}

function wrapDataKey(dataKey: Buffer, master: MasterKey, aad: string): Buffer {
  assertKey(master.key, 'master key');
  return encrypt(master.key, dataKey, wrapAad(master.id, aad));
}

function unwrapDataKey(wrappedKey: Buffer, masterKeyId: string, aad: string, ring: MasterKeyring): Buffer {
  const master = ring.byId(masterKeyId);
  if (!master) throw new DecryptionError('unknown-master-key');
  const dataKey = decrypt(master.key, wrappedKey, wrapAad(masterKeyId, aad));
  if (dataKey.length !== KEY_BYTES) {
    dataKey.fill(0);
    throw new DecryptionError('malformed');
  }
  return dataKey;
}

/** Encrypts `plaintext` under a fresh data key, wrapped under `ring.current`. `aad` names the row, e.g. `witness-identity:<witnessId>`. */
export function sealRecord(plaintext: Buffer, aad: string, ring: MasterKeyring): SealedRecord {
  const master = ring.current;
  const dataKey = randomBytes(KEY_BYTES);
  try {
    return {
      ciphertext: encrypt(dataKey, plaintext, recordAad(aad)),
      wrappedKey: wrapDataKey(dataKey, master, aad),
      masterKeyId: master.id,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** Decrypts a sealed record; throws `DecryptionError` if anything does not authenticate. */
export function openRecord(sealed: SealedRecord, aad: string, ring: MasterKeyring): Buffer {
  const dataKey = unwrapDataKey(sealed.wrappedKey, sealed.masterKeyId, aad, ring);
  try {
    return decrypt(dataKey, sealed.ciphertext, recordAad(aad));
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps a record's data key under `toKey`; the record's ciphertext is left as it is. */
export function rewrapKey(
  wrappedKey: Buffer,
  masterKeyId: string,
  aad: string,
  fromRing: MasterKeyring,
  toKey: MasterKey,
): { wrappedKey: Buffer; masterKeyId: string } {
  const dataKey = unwrapDataKey(wrappedKey, masterKeyId, aad, fromRing);
  try {
    return { wrappedKey: wrapDataKey(dataKey, toKey, aad), masterKeyId: toKey.id };
  } finally {
    dataKey.fill(0);
  }
}

/** A stable identifier for a master key that reveals nothing about it. */
export function masterKeyId(key: Buffer): string {
  assertKey(key, 'master key');
  return createHash('sha256')
    .update(KEY_ID_LABEL)
    .update(Buffer.from([0]))
    .update(key)
    .digest('hex')
    .slice(0, 8);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Parses a base64 master key (surrounding whitespace ignored); it must decode to exactly 32 bytes. */
export function masterKeyFromBase64(text: string, id?: string): MasterKey {
  const trimmed = text.trim();
  // Buffer.from(…, 'base64') silently skips invalid characters, hence the strict check first.
  if (!BASE64.test(trimmed)) throw new InvalidKeyError('master key is not valid base64');
  const key = Buffer.from(trimmed, 'base64');
  assertKey(key, 'master key');
  if (id !== undefined && id.length === 0) throw new InvalidKeyError('master key id must not be empty');
  return { id: id ?? masterKeyId(key), key };
}

export function masterKeyToBase64(key: MasterKey): string {
  return key.key.toString('base64');
}

export function generateMasterKey(): MasterKey {
  const key = randomBytes(KEY_BYTES);
  return { id: masterKeyId(key), key };
}

/** A keyring whose current key seals; `current` and every key in `older` open. */
export function createMasterKeyring(current: MasterKey, older: MasterKey[] = []): MasterKeyring {
  const keys = new Map<string, MasterKey>();
  for (const key of [...older, current]) {
    assertKey(key.key, 'master key');
    const existing = keys.get(key.id);
    if (existing && !existing.key.equals(key.key)) {
      throw new InvalidKeyError(`two different master keys share the id ${key.id}`);
    }
    keys.set(key.id, key);
  }
  return { current, byId: (id) => keys.get(id) };
}
