// Publishing signing keys at start, rotation through the CLI, and the manual actions against
// the custody-actions vocabulary.
import t from 'tap';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.ts';
import { generateSigningKey, signingKeyFromPem, signingKeyToPem } from '../../src/crypto/index.ts';
import { writeFile, mkdir } from 'node:fs/promises';
import { MANUAL_CUSTODY_ACTIONS, SYSTEM_CUSTODY_ACTIONS } from '../../src/modules/custody/custody.append.ts';
import { rotateSigningCommand } from '../../src/modules/custody/custody.cli.ts';
import { ensureSigningKey } from '../../src/modules/custody/signing-keys.ts';
import { createTestContext } from '../helpers/app.ts';
import { insertEvidence } from './factory.ts';

const ctx = await createTestContext(t);

const published = async () => (await ctx.json(null, 'GET', '/api/v1/custody/keys')).body.keys as { keyId: string; status: string; name: string }[];
const statusOf = async (keyId: string) => (await published()).find((k) => k.keyId === keyId)?.status;

t.test('the manual actions are the vocabulary\'s manual ones', async (t) => {
  const vocabulary = JSON.parse(await readFile(new URL('../../src/modules/vocabularies/data/custody-actions.json', import.meta.url), 'utf8'));
  const items = vocabulary.items as { code: string; manual: boolean }[];
  t.same(items.filter((i) => i.manual).map((i) => i.code).sort(), [...MANUAL_CUSTODY_ACTIONS].sort());
  t.same(items.filter((i) => !i.manual).map((i) => i.code).sort(), [...SYSTEM_CUSTODY_ACTIONS].sort());
});

t.test('a new key at start becomes current and retires the other; concurrent starts leave one current', async (t) => {
  t.equal(await statusOf(ctx.keys.signing.keyId), 'current');
  const warnings: unknown[] = [];
  const log = { warn: (obj: object) => void warnings.push(obj) };
  const a = generateSigningKey('custodia-a');
  const b = generateSigningKey('custodia-b');
  await Promise.all([ensureSigningKey(ctx.db, a, log), ensureSigningKey(ctx.db, b, log)]);
  const keys = await published();
  t.equal(keys.filter((k) => k.status === 'current').length, 1, 'exactly one current key');
  t.equal(keys.length, 3);
  t.equal(await statusOf(ctx.keys.signing.keyId), 'retired');
  t.same(warnings, []);
  const loser = (await statusOf(a.keyId)) === 'retired' ? a : b;
  await ensureSigningKey(ctx.db, loser, log);
  t.equal(await statusOf(loser.keyId), 'retired', 'a restart with a retired key does not take it back');
  t.equal(warnings.length, 1);
});

t.test('keys rotate-signing', async (t) => {
  const dataDir = join(ctx.dataDir, 'rotate');
  const file = join(dataDir, 'keys', 'signing-key.pem');
  await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  const config = loadConfig({ CUSTODIA_DATA_DIR: dataDir, DATABASE_URL: ctx.database.url, CUSTODIA_SIGNING_KEY_NAME: 'custodia-test' });
  // The key the app runs with is the one in the file.
  await writeFile(file, signingKeyToPem(ctx.keys.signing), { mode: 0o600 });
  await ensureSigningKey(ctx.db, ctx.keys.signing, { warn: () => {} });
  const testCase = await ctx.createCase();
  const item = await insertEvidence(ctx.db, testCase.id, testCase.users.lead.id);
  await ctx.json(testCase.users.lead, 'POST', `/api/v1/evidence/${item.id}/custody`, { action: 'sealed', note: 'bag 1' });
  const before = await ctx.inject(testCase.users.lead, { method: 'GET', url: `/api/v1/cases/${testCase.id}/custody/checkpoint` });
  t.equal(before.statusCode, 200);

  let out = '';
  const sink = new Writable({ write(chunk, _e, done) { out += String(chunk); done(); } });
  const code = await rotateSigningCommand([], { loadConfig: () => config, withDatabase: (_c, run) => run(ctx.db, ctx.database.url), out: sink });
  t.equal(code, 0);
  const newKeyId = out.trim();
  t.match(newKeyId, /^[0-9a-f]{8}$/);
  t.not(newKeyId, ctx.keys.signing.keyId);

  const fresh = signingKeyFromPem(await readFile(file, 'utf8'), 'custodia-test');
  t.equal(fresh.keyId, newKeyId, 'the file holds the new key');
  t.equal((await stat(file)).mode & 0o777, 0o600);
  const kept = signingKeyFromPem(await readFile(`${file}.retired-${ctx.keys.signing.keyId}`, 'utf8'), 'custodia-test');
  t.equal(kept.keyId, ctx.keys.signing.keyId, 'the old file is kept');
  t.equal(await statusOf(newKeyId), 'current');
  t.equal(await statusOf(ctx.keys.signing.keyId), 'retired');
  t.equal((await published()).filter((k) => k.status === 'current').length, 1);

  const verify = await ctx.json(testCase.users.lead, 'GET', `/api/v1/cases/${testCase.id}/custody/verify`);
  t.equal(verify.body.valid, true, 'checkpoints signed by the retired key still verify');
  t.equal(verify.body.checkpoint, before.body);

  const managed = loadConfig({ CUSTODIA_DATA_DIR: dataDir, DATABASE_URL: ctx.database.url, CUSTODIA_SIGNING_KEY: signingKeyToPem(fresh) });
  await t.rejects(
    rotateSigningCommand([], { loadConfig: () => managed, withDatabase: (_c, run) => run(ctx.db, ctx.database.url), out: sink }),
    { name: 'CommandError', message: /CUSTODIA_SIGNING_KEY.*rotate it there/ },
  );
  await t.rejects(rotateSigningCommand(['--force'], { loadConfig: () => config, withDatabase: (_c, run) => run(ctx.db, ctx.database.url), out: sink }), { name: 'CommandError' });
  t.equal(signingKeyFromPem(await readFile(file, 'utf8'), 'custodia-test').keyId, newKeyId, 'a refused rotation changes nothing');
});
