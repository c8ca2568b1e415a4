import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkpointBody,
  CheckpointFormatError,
  keyId,
  parseCheckpoint,
  publicKeyFromRaw,
  publicKeyPem,
  publicKeyRaw,
  signCheckpoint,
  verifyCheckpoint,
} from '../../src/custody/checkpoint.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const root = createHash('sha256').update('root').digest();
const origin = 'custodia/inst-1/cases/c_01';
const body = checkpointBody(origin, 42, root);
const note = signCheckpoint(body, { name: 'custodia-inst-1', privateKey });

t.test('body bytes', async (t) => {
  t.equal(body, `custodia/inst-1/cases/c_01\n42\n${root.toString('base64')}\n`);
  t.equal(checkpointBody('o', 0, Buffer.alloc(32)), 'o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n');
  t.throws(() => checkpointBody('', 1, root), CheckpointFormatError);
  t.throws(() => checkpointBody('a\nb', 1, root), CheckpointFormatError);
  t.throws(() => checkpointBody('o', -1, root), CheckpointFormatError);
  t.throws(() => checkpointBody('o', 1.5, root), CheckpointFormatError);
  t.throws(() => checkpointBody('o', 1, Buffer.alloc(31)), CheckpointFormatError);
});

t.test('public key helpers', async (t) => {
  const jwkX = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  t.same(publicKeyRaw(publicKey), jwkX);
  t.same(publicKeyRaw(privateKey), jwkX, 'from the private key too');
  t.equal(publicKeyPem(privateKey), publicKey.export({ format: 'pem', type: 'spki' }));
  t.match(publicKeyPem(publicKey), /^-----BEGIN PUBLIC KEY-----\n/);
  t.ok(publicKeyFromRaw(jwkX).equals(publicKey));
  t.throws(() => publicKeyFromRaw(Buffer.alloc(31)), TypeError);
  const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  t.throws(() => publicKeyRaw(rsa.publicKey), TypeError);
  t.throws(() => verifyCheckpoint(note, rsa.publicKey), TypeError);
});

t.test('key id', async (t) => {
  const raw = publicKeyRaw(publicKey);
  const independent = createHash('sha256')
    .update(Buffer.concat([Buffer.from('custodia-inst-1'), Buffer.from([10, 1]), raw]))
    .digest()
    .subarray(0, 4);
  t.same(keyId('custodia-inst-1', raw), independent);
  // The example key of Go's golang.org/x/mod/sumdb/note documentation: its verifier key
  // "PeterNeumann+c74f20a3+ARpc2Qc…" carries the id c74f20a3 and 0x01 ‖ public key.
  const vkeyKey = Buffer.from('ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'base64').subarray(1);
  t.equal(keyId('PeterNeumann', vkeyKey).toString('hex'), 'c74f20a3');
  const goNoteBody = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  const goSig = Buffer.from('x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=', 'base64');
  t.equal(goSig.subarray(0, 4).toString('hex'), 'c74f20a3');
  t.ok(verify(null, Buffer.from(goNoteBody), publicKeyFromRaw(vkeyKey), goSig.subarray(4)), 'Go example note verifies');
});

t.test('sign, parse, verify', async (t) => {
  const id = keyId('custodia-inst-1', publicKeyRaw(publicKey));
  t.match(note, new RegExp(`^${body.replaceAll('+', '\\+')}\n\u2014 custodia-inst-1 [A-Za-z0-9+/]{91}=\n$`));
  const parsed = parseCheckpoint(note);
  t.equal(parsed.origin, origin);
  t.equal(parsed.size, 42);
  t.same(parsed.rootHash, root);
  t.same(parsed.extensions, []);
  t.equal(parsed.body, body);
  t.equal(parsed.signatures.length, 1);
  t.equal(parsed.signatures[0]!.name, 'custodia-inst-1');
  t.same(parsed.signatures[0]!.keyId, id);
  t.equal(parsed.signatures[0]!.signature.length, 64);
  t.ok(verify(null, Buffer.from(body), publicKey, parsed.signatures[0]!.signature));

  t.ok(verifyCheckpoint(note, publicKey));
  t.ok(verifyCheckpoint(note, publicKey, 'custodia-inst-1'));
  t.ok(verifyCheckpoint(note, privateKey), 'a private key verifies as its public key');
  t.notOk(verifyCheckpoint(note, publicKey, 'someone-else'));
  t.notOk(verifyCheckpoint(note, other.publicKey));

  const cosigned = note + signCheckpoint(body, { name: 'witness', privateKey: other.privateKey }).slice(body.length + 1);
  t.equal(parseCheckpoint(cosigned).signatures.length, 2);
  t.ok(verifyCheckpoint(cosigned, publicKey, 'custodia-inst-1'));
  t.ok(verifyCheckpoint(cosigned, other.publicKey, 'witness'));
  t.notOk(verifyCheckpoint(cosigned, other.publicKey, 'custodia-inst-1'));

  const withExtension = signCheckpoint(`${body}ext line\n`, { name: 'k', privateKey });
  t.same(parseCheckpoint(withExtension).extensions, ['ext line']);
  t.ok(verifyCheckpoint(withExtension, publicKey));

  t.throws(() => signCheckpoint(body, { name: 'has space', privateKey }), CheckpointFormatError);
  t.throws(() => signCheckpoint(body, { name: 'a+b', privateKey }), CheckpointFormatError);
  t.throws(() => signCheckpoint(body, { name: '', privateKey }), CheckpointFormatError);
  t.throws(() => signCheckpoint(body.slice(0, -1), { name: 'k', privateKey }), CheckpointFormatError);
  t.throws(() => signCheckpoint(`${body}\n`, { name: 'k', privateKey }), CheckpointFormatError);
  t.throws(() => signCheckpoint('o\nx\nAAAA\n', { name: 'k', privateKey }), CheckpointFormatError);
});

t.test('tampering fails', async (t) => {
  const otherRoot = createHash('sha256').update('other').digest().toString('base64');
  const tampered = [
    note.replace('\n42\n', '\n43\n'),
    note.replace(root.toString('base64'), otherRoot),
    note.replace('custodia/inst-1', 'custodia/inst-2'),
    note.replace('custodia-inst-1 ', 'custodia-inst-2 '),
  ];
  for (const text of tampered) t.notOk(verifyCheckpoint(text, publicKey), text);
  const sigStart = note.lastIndexOf(' ') + 1;
  const blob = Buffer.from(note.slice(sigStart, -1), 'base64');
  for (let i = 0; i < blob.length; i++) {
    const flipped = Buffer.from(blob);
    flipped[i]! ^= 0x01;
    if (verifyCheckpoint(`${note.slice(0, sigStart)}${flipped.toString('base64')}\n`, publicKey)) t.fail(`byte ${i}`);
  }
  const short = `${note.slice(0, sigStart)}${blob.subarray(0, 67).toString('base64')}\n`;
  t.notOk(verifyCheckpoint(short, publicKey), 'truncated signature');
});

t.test('malformed notes', async (t) => {
  const sigLine = note.slice(body.length + 1);
  const bad = [
    body,
    `${body}\n`,
    note.slice(0, -1),
    `${body}\n${sigLine}\n`,
    `${body}\n${sigLine.replace('\u2014', '-')}`,
    `${body}\n${sigLine.replace('custodia-inst-1', 'a+b')}`,
    `${body}\n${sigLine.replace(/ \S+\n$/, ' !!!!\n')}`,
    `${body}\n\u2014 k AAAA\n`,
    `o\n1\n\n${sigLine}`,
    `o\n01\n${root.toString('base64')}\n\n${sigLine}`,
    `o\n-1\n${root.toString('base64')}\n\n${sigLine}`,
    `o\n99999999999999999999\n${root.toString('base64')}\n\n${sigLine}`,
    `o\n1\nAAAA\n\n${sigLine}`,
    `o\n1\n${root.toString('base64url')}\n\n${sigLine}`,
    `\n1\n${root.toString('base64')}\n\n${sigLine}`,
    `o\n\n${sigLine}`,
  ];
  for (const text of bad) {
    t.throws(() => parseCheckpoint(text), CheckpointFormatError, JSON.stringify(text));
    t.equal(verifyCheckpoint(text, publicKey), false);
  }
  t.throws(() => parseCheckpoint(42 as never), CheckpointFormatError);
});

t.test('openssl verifies the body and raw signature', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'custodia-checkpoint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const parsed = parseCheckpoint(note);
  writeFileSync(join(dir, 'pub.pem'), publicKeyPem(publicKey));
  writeFileSync(join(dir, 'checkpoint.body'), parsed.body);
  writeFileSync(join(dir, 'checkpoint.sig'), parsed.signatures[0]!.signature);
  const opensslVerify = (bodyFile: string, sigFile: string) => {
    try {
      execFileSync(
        'openssl',
        ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-in', bodyFile, '-sigfile', sigFile],
        { cwd: dir, stdio: 'pipe' },
      );
      return true;
    } catch {
      return false;
    }
  };
  t.ok(opensslVerify('checkpoint.body', 'checkpoint.sig'), 'openssl accepts');
  const flippedBody = Buffer.from(parsed.body);
  flippedBody[flippedBody.length - 2]! ^= 0x01;
  writeFileSync(join(dir, 'flipped.body'), flippedBody);
  t.notOk(opensslVerify('flipped.body', 'checkpoint.sig'), 'openssl refuses a flipped body byte');
  const flippedSig = Buffer.from(parsed.signatures[0]!.signature);
  flippedSig[10]! ^= 0x80;
  writeFileSync(join(dir, 'flipped.sig'), flippedSig);
  t.notOk(opensslVerify('checkpoint.body', 'flipped.sig'), 'openssl refuses a flipped signature byte');
});
