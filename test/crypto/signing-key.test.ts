import t from 'tap';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  InvalidKeyError,
  generateSigningKey,
  rawPublicKey,
  sign,
  signingKeyFromPem,
  signingKeyId,
  signingKeyToPem,
  verify,
} from '../../src/crypto/index.ts';

const run = promisify(execFile);
const NAME = 'custodia.example.org/checkpoint-1';

t.test('generate, sign, verify', async (t) => {
  const key = generateSigningKey(NAME);
  t.equal(key.name, NAME);
  t.equal(key.privateKey.asymmetricKeyType, 'ed25519');
  t.match(key.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
  t.match(key.keyId, /^[0-9a-f]{8}$/);
  const body = Buffer.from('custodia/i1/cases/c1\n3\nAAAA\n');
  const signature = sign(body, key);
  t.equal(signature.length, 64);
  t.ok(verify(body, signature, key.publicKey));
  t.ok(verify(body, signature, key.publicKeyPem), 'PEM public key');
  t.notOk(verify(Buffer.from('custodia/i1/cases/c1\n4\nAAAA\n'), signature, key.publicKey), 'other body');
  const bad = Buffer.from(signature);
  bad[10] = (bad[10] ?? 0) ^ 0x80;
  t.notOk(verify(body, bad, key.publicKey), 'flipped signature');
  t.notOk(verify(body, signature.subarray(0, 63), key.publicKey), 'short signature');
  t.notOk(verify(body, signature, generateSigningKey(NAME).publicKey), 'other key');
  t.notOk(verify(body, signature, 'not a pem'), 'garbage key');
  t.notOk(verify(body, signature, generateKeyPairSync('ed448').publicKey), 'not ed25519');
});

t.test('keyId matches an independent computation', async (t) => {
  const key = generateSigningKey(NAME);
  const der = createPublicKey(key.publicKeyPem).export({ format: 'der', type: 'spki' });
  const raw = der.subarray(der.length - 32); // Ed25519 SPKI is a 12-byte prefix then the key
  t.same(rawPublicKey(key.publicKey), raw);
  t.same(rawPublicKey(key.privateKey), raw, 'from the private key too');
  const expected = createHash('sha256')
    .update(Buffer.concat([Buffer.from(NAME), Buffer.from([0x0a, 0x01]), raw]))
    .digest('hex')
    .slice(0, 8);
  t.equal(key.keyId, expected);
  t.equal(signingKeyId(NAME, key.publicKey), expected);
  t.not(signingKeyId('other-name', key.publicKey), expected, 'name is bound');
});

t.test('PEM round trip', async (t) => {
  const key = generateSigningKey(NAME);
  const pem = signingKeyToPem(key);
  t.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  const loaded = signingKeyFromPem(pem, NAME);
  t.equal(loaded.keyId, key.keyId);
  t.equal(loaded.publicKeyPem, key.publicKeyPem);
  const body = Buffer.from('hello');
  t.ok(verify(body, sign(body, loaded), key.publicKey));
  t.throws(() => signingKeyFromPem('garbage', NAME), InvalidKeyError);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
  t.throws(() => signingKeyFromPem(ec.toString(), NAME), InvalidKeyError, 'not ed25519');
  t.throws(() => rawPublicKey(generateKeyPairSync('ed448').publicKey), InvalidKeyError);
});

t.test('key names follow signed-note rules', async (t) => {
  t.throws(() => generateSigningKey(''), InvalidKeyError);
  t.throws(() => generateSigningKey('has space'), InvalidKeyError);
  t.throws(() => generateSigningKey('has+plus'), InvalidKeyError);
  t.throws(() => generateSigningKey('tab\there'), InvalidKeyError);
});

t.test('openssl verifies our signatures', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-sig-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const key = generateSigningKey(NAME);
  const body = Buffer.from('0123abcd  data/records/witnesses.json\n');
  await writeFile(join(dir, 'pub.pem'), key.publicKeyPem);
  await writeFile(join(dir, 'body'), body);
  await writeFile(join(dir, 'sig'), sign(body, key));
  const args = ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-in', 'body', '-sigfile', 'sig'];
  const ok = await run('openssl', args, { cwd: dir });
  t.match(ok.stdout, /Signature Verified Successfully/);

  const tampered = Buffer.from(body);
  tampered[0] = (tampered[0] ?? 0) ^ 0x01;
  await writeFile(join(dir, 'body'), tampered);
  await t.rejects(run('openssl', args, { cwd: dir }), 'flipped body byte fails');

  await writeFile(join(dir, 'body'), body);
  const sig = sign(body, key);
  sig[5] = (sig[5] ?? 0) ^ 0x01;
  await writeFile(join(dir, 'sig'), sig);
  await t.rejects(run('openssl', args, { cwd: dir }), 'flipped signature byte fails');
});
