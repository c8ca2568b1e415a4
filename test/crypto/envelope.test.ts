import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  DecryptionError,
  InvalidKeyError,
  createMasterKeyring,
  generateMasterKey,
  masterKeyFromBase64,
  masterKeyId,
  masterKeyToBase64,
  openRecord,
  rewrapKey,
  sealRecord,
} from '../../src/crypto/index.ts';
import type { DecryptionFailure, MasterKeyring, SealedRecord } from '../../src/crypto/index.ts';

const AAD = 'witness-identity:3f1c2a9e-0000-4000-8000-000000000001';
const PLAINTEXT = Buffer.from(
  JSON.stringify({ fullName: 'Amina Example-Witness', contact: '+000 555 0199', dateOfBirth: '1990-01-02', notes: null }),
);

function flipped(buffer: Buffer, index: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}

function rejects(test: Pick<typeof t, 'throws'>, fn: () => unknown, reason: DecryptionFailure, message: string): void {
  test.throws(fn, { name: 'DecryptionError', reason }, message);
}

const ring = createMasterKeyring(generateMasterKey());

t.test('round trip', async (t) => {
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  t.equal(sealed.masterKeyId, ring.current.id);
  t.equal(sealed.ciphertext[0], 1, 'version byte');
  t.equal(sealed.ciphertext.length, 1 + 12 + 16 + PLAINTEXT.length);
  t.equal(sealed.wrappedKey.length, 1 + 12 + 16 + 32);
  t.same(openRecord(sealed, AAD, ring), PLAINTEXT);
  t.same(openRecord(sealRecord(Buffer.alloc(0), AAD, ring), AAD, ring), Buffer.alloc(0), 'empty record');
});

t.test('every seal uses a fresh data key and nonces', async (t) => {
  const a = sealRecord(PLAINTEXT, AAD, ring);
  const b = sealRecord(PLAINTEXT, AAD, ring);
  t.notSame(a.ciphertext.subarray(1, 13), b.ciphertext.subarray(1, 13), 'record nonces differ');
  t.notSame(a.ciphertext.subarray(13), b.ciphertext.subarray(13), 'record tag and body differ');
  t.notSame(a.wrappedKey.subarray(1, 13), b.wrappedKey.subarray(1, 13), 'wrap nonces differ');
  t.notSame(a.wrappedKey.subarray(13), b.wrappedKey.subarray(13), 'wrapped keys differ');
  // A data key from one record must not open the other: swap the wrapped keys.
  rejects(t, () => openRecord({ ...a, wrappedKey: b.wrappedKey }, AAD, ring), 'authentication-failed', 'keys are per record');
});

t.test('a record moved to another row does not open', async (t) => {
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  rejects(t, () => openRecord(sealed, 'witness-identity:another', ring), 'authentication-failed', 'other aad');
  // Even with the wrapped key re-made for the new row, the ciphertext stays bound to its own aad.
  const moved = rewrapKey(sealed.wrappedKey, sealed.masterKeyId, AAD, ring, ring.current);
  const other = sealRecord(PLAINTEXT, 'witness-identity:another', ring);
  rejects(t, () => openRecord({ ...other, ciphertext: sealed.ciphertext }, 'witness-identity:another', ring), 'authentication-failed', 'ciphertext onto another row');
  t.same(openRecord({ ...sealed, ...moved }, AAD, ring), PLAINTEXT);
});

t.test('any flipped byte fails', async (t) => {
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  for (let i = 0; i < sealed.ciphertext.length; i++) {
    t.throws(() => openRecord({ ...sealed, ciphertext: flipped(sealed.ciphertext, i) }, AAD, ring), DecryptionError);
  }
  for (let i = 0; i < sealed.wrappedKey.length; i++) {
    t.throws(() => openRecord({ ...sealed, wrappedKey: flipped(sealed.wrappedKey, i) }, AAD, ring), DecryptionError);
  }
  rejects(t, () => openRecord({ ...sealed, ciphertext: flipped(sealed.ciphertext, 0) }, AAD, ring), 'malformed', 'unknown version');
  rejects(t, () => openRecord({ ...sealed, ciphertext: sealed.ciphertext.subarray(0, 28) }, AAD, ring), 'malformed', 'truncated');
  rejects(t, () => openRecord({ ...sealed, ciphertext: sealed.ciphertext.subarray(0, -1) }, AAD, ring), 'authentication-failed', 'one byte short');
});

t.test('wrong or unknown master key fails', async (t) => {
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  const impostor: MasterKeyring = {
    current: generateMasterKey(),
    byId: (id) => (id === sealed.masterKeyId ? { id, key: randomBytes(32) } : undefined),
  };
  rejects(t, () => openRecord(sealed, AAD, impostor), 'authentication-failed', 'same id, other key');
  rejects(t, () => openRecord(sealed, AAD, createMasterKeyring(generateMasterKey())), 'unknown-master-key', 'unknown id');
  // Relabelling the wrapped key with another id in the ring fails: the id is authenticated.
  const other = generateMasterKey();
  const both = createMasterKeyring(other, [ring.current]);
  const relabelled: SealedRecord = { ...sealed, masterKeyId: other.id };
  const alias: MasterKeyring = { current: other, byId: (id) => (id === other.id ? { id, key: ring.current.key } : both.byId(id)) };
  rejects(t, () => openRecord(relabelled, AAD, alias), 'authentication-failed', 'key id bound');
});

t.test('a wrapped key that does not hold 32 bytes is malformed', async (t) => {
  // Built by hand: wrap 16 bytes with the right AAD, as a corrupt or hostile row might.
  const { createCipheriv } = await import('node:crypto');
  const nonce = randomBytes(12);
  const part = (s: string | Buffer) => {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const aad = Buffer.concat([part('custodia/key-wrap/v1'), part(Buffer.from([1])), part(ring.current.id), part(AAD)]);
  const cipher = createCipheriv('aes-256-gcm', ring.current.key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(randomBytes(16)), cipher.final()]);
  const wrappedKey = Buffer.concat([Buffer.from([1]), nonce, cipher.getAuthTag(), body]);
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  rejects(t, () => openRecord({ ...sealed, wrappedKey }, AAD, ring), 'malformed', 'short data key');
});

t.test('rewrap under a new master key', async (t) => {
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  const ciphertextBefore = Buffer.from(sealed.ciphertext);
  const next = generateMasterKey();
  const rewrapped = rewrapKey(sealed.wrappedKey, sealed.masterKeyId, AAD, ring, next);
  t.equal(rewrapped.masterKeyId, next.id);
  t.notSame(rewrapped.wrappedKey, sealed.wrappedKey);
  const onlyNew = createMasterKeyring(next);
  const moved: SealedRecord = { ciphertext: sealed.ciphertext, ...rewrapped };
  t.same(openRecord(moved, AAD, onlyNew), PLAINTEXT);
  t.same(sealed.ciphertext, ciphertextBefore, 'ciphertext bytes unchanged');
  rejects(t, () => openRecord(moved, AAD, ring), 'unknown-master-key', 'old ring lacks the new key');
  rejects(t, () => rewrapKey(sealed.wrappedKey, sealed.masterKeyId, 'witness-identity:x', ring, next), 'authentication-failed', 'rewrap checks aad');
  rejects(t, () => rewrapKey(sealed.wrappedKey, 'deadbeef', AAD, ring, next), 'unknown-master-key', 'rewrap with unknown id');
  t.throws(() => rewrapKey(sealed.wrappedKey, sealed.masterKeyId, AAD, ring, { id: 'bad', key: Buffer.alloc(16) }), InvalidKeyError);
});

t.test('sealed bytes do not contain the plaintext or the keys', async (t) => {
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  const all = Buffer.concat([sealed.ciphertext, sealed.wrappedKey, Buffer.from(sealed.masterKeyId)]);
  for (const needle of ['Amina', 'Example-Witness', '555 0199', '1990-01-02', 'fullName']) {
    t.equal(all.indexOf(needle), -1, `no ${needle}`);
  }
  t.equal(all.indexOf(ring.current.key), -1, 'no master key');
});

t.test('errors carry no secrets', async (t) => {
  const sealed = sealRecord(PLAINTEXT, AAD, ring);
  try {
    openRecord({ ...sealed, ciphertext: flipped(sealed.ciphertext, 40) }, AAD, ring);
    t.fail('should throw');
  } catch (error) {
    t.ok(error instanceof DecryptionError);
    const text = `${(error as Error).message} ${(error as Error).stack} ${JSON.stringify(error)}`;
    t.notMatch(text, ring.current.key.toString('base64'));
    t.notMatch(text, 'Amina');
    t.equal((error as Error).name, 'DecryptionError');
  }
});

t.test('masterKeyFromBase64', async (t) => {
  const key = randomBytes(32);
  const parsed = masterKeyFromBase64(`${key.toString('base64')}\n`);
  t.same(parsed.key, key);
  t.match(parsed.id, /^[0-9a-f]{8}$/);
  t.equal(parsed.id, masterKeyId(key), 'derived');
  t.equal(masterKeyFromBase64(key.toString('base64')).id, parsed.id, 'stable');
  t.not(parsed.id, key.toString('hex').slice(0, 8), 'not the key prefix');
  t.equal(masterKeyFromBase64(key.toString('base64'), 'k2024').id, 'k2024', 'explicit id');
  t.equal(masterKeyToBase64(parsed), key.toString('base64'));
  t.throws(() => masterKeyFromBase64(randomBytes(31).toString('base64')), InvalidKeyError, '31 bytes');
  t.throws(() => masterKeyFromBase64(randomBytes(33).toString('base64')), InvalidKeyError, '33 bytes');
  t.throws(() => masterKeyFromBase64(''), InvalidKeyError, 'empty');
  t.throws(() => masterKeyFromBase64('not base64 at all!!'), InvalidKeyError, 'not base64');
  t.throws(() => masterKeyFromBase64(`${key.toString('base64').slice(0, -2)}*=`), InvalidKeyError, 'bad character');
  t.throws(() => masterKeyFromBase64(key.toString('base64url')), InvalidKeyError, 'base64url is not base64');
  t.throws(() => masterKeyFromBase64(key.toString('base64'), ''), InvalidKeyError, 'empty id');
  t.throws(() => masterKeyId(Buffer.alloc(8)), InvalidKeyError);
});

t.test('createMasterKeyring', async (t) => {
  const a = generateMasterKey();
  const b = generateMasterKey();
  const keyring = createMasterKeyring(b, [a]);
  t.equal(keyring.current, b);
  t.equal(keyring.byId(a.id), a);
  t.equal(keyring.byId('nope'), undefined);
  t.throws(() => createMasterKeyring(b, [{ id: b.id, key: randomBytes(32) }]), InvalidKeyError, 'id clash');
  t.throws(() => createMasterKeyring({ id: 'x', key: Buffer.alloc(31) }), InvalidKeyError, 'short key');
  t.ok(createMasterKeyring(b, [b]), 'same key twice is fine');
  t.throws(() => sealRecord(PLAINTEXT, AAD, { current: { id: 'x', key: Buffer.alloc(16) }, byId: () => undefined }), InvalidKeyError);
});
