import t from 'tap';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KeyFileError,
  loadOrCreateMasterKeyFile,
  loadOrCreateSigningKeyFile,
  masterKeyFromBase64,
  signingKeyFromPem,
} from '../../src/crypto/index.ts';

async function tempDir(t: Pick<typeof import('tap').default, 'teardown'>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-keys-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('master key file: created 0600, then loaded', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'nested', 'master.key');
  const first = await loadOrCreateMasterKeyFile(path);
  t.equal(first.created, true);
  t.equal((await stat(path)).mode & 0o777, 0o600);
  const text = await readFile(path, 'utf8');
  t.same(masterKeyFromBase64(text).key, first.key.key, 'file holds the base64 key');
  const second = await loadOrCreateMasterKeyFile(path);
  t.equal(second.created, false);
  t.same(second.key, first.key);
  t.same(await readdir(join(dir, 'nested')), ['master.key'], 'no temporary file left behind');
});

t.test('signing key file: created 0600, then loaded', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'signing.pem');
  const first = await loadOrCreateSigningKeyFile(path, 'custodia-test');
  t.equal(first.created, true);
  t.equal((await stat(path)).mode & 0o777, 0o600);
  const pem = await readFile(path, 'utf8');
  t.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  t.equal(signingKeyFromPem(pem, 'custodia-test').keyId, first.key.keyId);
  const second = await loadOrCreateSigningKeyFile(path, 'custodia-test');
  t.equal(second.created, false);
  t.equal(second.key.keyId, first.key.keyId);
  t.equal(second.key.publicKeyPem, first.key.publicKeyPem);
});

t.test('a file readable by group or others is refused', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'master.key');
  const { key } = await loadOrCreateMasterKeyFile(path);
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    await chmod(path, mode);
    await t.rejects(
      loadOrCreateMasterKeyFile(path),
      { name: 'KeyFileError', reason: 'insecure-permissions', path, message: `chmod 600 ${path}` },
      `mode ${mode.toString(8)}`,
    );
    const error = await loadOrCreateMasterKeyFile(path).catch((e: unknown) => e);
    t.ok(error instanceof KeyFileError);
    t.notMatch((error as Error).message, key.key.toString('base64'), 'no key in the message');
  }
  const pemPath = join(dir, 'signing.pem');
  await loadOrCreateSigningKeyFile(pemPath, 'k');
  await chmod(pemPath, 0o644);
  await t.rejects(loadOrCreateSigningKeyFile(pemPath, 'k'), KeyFileError);
  await chmod(pemPath, 0o400);
  t.equal((await loadOrCreateSigningKeyFile(pemPath, 'k')).created, false, 'read-only by owner is fine');
});

t.test('invalid or unusable files are refused', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'master.key');
  await writeFile(path, 'c2hvcnQ=\n', { mode: 0o600 });
  await t.rejects(loadOrCreateMasterKeyFile(path), { name: 'KeyFileError', reason: 'invalid-content' });
  const pemPath = join(dir, 'signing.pem');
  await writeFile(pemPath, 'not a pem', { mode: 0o600 });
  await t.rejects(loadOrCreateSigningKeyFile(pemPath, 'k'), { name: 'KeyFileError', reason: 'invalid-content' });
  const dirPath = join(dir, 'adir');
  await mkdir(dirPath, { mode: 0o700 });
  await t.rejects(loadOrCreateMasterKeyFile(dirPath), { name: 'KeyFileError', reason: 'not-a-file' });
  // Parent is a file: neither read nor create can work; the system error surfaces.
  await t.rejects(loadOrCreateMasterKeyFile(join(path, 'child')), { code: 'ENOTDIR' });
});

t.test('concurrent creation yields one key', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'master.key');
  const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateMasterKeyFile(path)));
  t.equal(results.filter((r) => r.created).length, 1, 'exactly one creator');
  const stored = masterKeyFromBase64(await readFile(path, 'utf8'));
  for (const r of results) t.same(r.key, stored);
  t.same(await readdir(dir), ['master.key']);

  const pemPath = join(dir, 'signing.pem');
  const [a, b] = await Promise.all([loadOrCreateSigningKeyFile(pemPath, 'k'), loadOrCreateSigningKeyFile(pemPath, 'k')]);
  t.equal([a, b].filter((r) => r.created).length, 1);
  t.equal(a.key.keyId, b.key.keyId);
});
