import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { InvalidKeyError } from './envelope.ts';

/** An Ed25519 service signing key (custody checkpoints, export manifests). */
export type SigningKey = {
  name: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  /** 8 hex: the C2SP signed-note key id, first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). */
  keyId: string;
};

const ED25519_PUBLIC_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const SIGNATURE_TYPE_ED25519 = 0x01;

// C2SP signed-note: a key name is non-empty UTF-8 with no Unicode space and no '+'.
function assertKeyName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || /[\s+]/u.test(name)) {
    throw new InvalidKeyError('signing key name must be non-empty, without spaces or "+"');
  }
}

function assertEd25519(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ed25519') throw new InvalidKeyError('signing key must be Ed25519');
}

/** The raw 32-byte Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Buffer {
  assertEd25519(publicKey);
  const pub = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  const x = pub.export({ format: 'jwk' }).x;
  const raw = Buffer.from(x ?? '', 'base64url');
  if (raw.length !== ED25519_PUBLIC_BYTES) throw new InvalidKeyError('unexpected Ed25519 public key length');
  return raw;
}

/** The signed-note key id (8 hex) of `publicKey` under `name`. */
export function signingKeyId(name: string, publicKey: KeyObject): string {
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.from([0x0a, SIGNATURE_TYPE_ED25519]))
    .update(rawPublicKey(publicKey))
    .digest()
    .subarray(0, 4)
    .toString('hex');
}

function fromPrivateKey(privateKey: KeyObject, name: string): SigningKey {
  assertKeyName(name);
  assertEd25519(privateKey);
  const publicKey = createPublicKey(privateKey);
  return {
    name,
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: signingKeyId(name, publicKey),
  };
}

export function generateSigningKey(name: string): SigningKey {
  assertKeyName(name);
  return fromPrivateKey(generateKeyPairSync('ed25519').privateKey, name);
}

/** Loads an Ed25519 private key from a PKCS#8 PEM. */
export function signingKeyFromPem(privatePem: string, name: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: privatePem, format: 'pem' });
  } catch {
    throw new InvalidKeyError('signing key is not a valid PEM private key');
  }
  return fromPrivateKey(privateKey, name);
}

export function signingKeyToPem(key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The raw 64-byte Ed25519 signature of `body`. */
export function sign(body: Buffer, key: SigningKey): Buffer {
  return cryptoSign(null, body, key.privateKey);
}

/** Whether `signature` is a valid Ed25519 signature of `body`; never throws on bad input. */
export function verify(body: Buffer, signature: Buffer, publicKey: KeyObject | string): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    if (key.asymmetricKeyType !== 'ed25519' || signature.length !== ED25519_SIGNATURE_BYTES) return false;
    return cryptoVerify(null, body, key, signature);
  } catch {
    return false;
  }
}
