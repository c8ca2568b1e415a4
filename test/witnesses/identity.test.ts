import t from 'tap';
import { createMasterKeyring, generateMasterKey, openRecord, sealRecord } from '../../src/crypto/index.ts';
import { rotateMasterKey } from '../../src/modules/witnesses/rotate-master-key.ts';
import { ALL_ROLE_NAMES, createTestContext, userFor, type RoleName, type TestUser } from '../helpers/app.ts';

const IDENTITY = {
  fullName: 'Amani Kabila-Mwamba',
  contact: '+243 970 555 0187, Quartier Himbi, Goma',
  dateOfBirth: '1987-04-23',
  notes: 'Lives with her brother; call only on Tuesdays.',
};

t.test('witness identities: who may read, write and erase; what the database holds', async (t) => {
  const ctx = await createTestContext(t);
  for (const value of Object.values(IDENTITY)) ctx.secrets.add(value);
  const c = await ctx.createCase();
  const registrar = c.users.investigator;
  const otherInvestigator = await ctx.createUser();
  await ctx.addMember(c.id, otherInvestigator.id, 'investigator');
  const bodies: string[] = [];
  const call = async (user: TestUser | null, method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const res = await ctx.json(user, method, url, payload);
    bodies.push(JSON.stringify(res.body ?? ''));
    return res;
  };

  const { body: witness } = await ctx.json(registrar, 'POST', `/api/v1/cases/${c.id}/witnesses`, {});
  const { body: bare } = await ctx.json(registrar, 'POST', `/api/v1/cases/${c.id}/witnesses`, {});
  const url = `/api/v1/witnesses/${witness.id}/identity`;

  t.equal((await call(registrar, 'GET', url)).status, 404, 'none recorded yet: 404 to the registrar');
  const put = await call(registrar, 'PUT', url, IDENTITY);
  t.equal(put.status, 200);
  t.same(put.body, IDENTITY);
  const partial = await call(c.users.lead, 'PUT', `/api/v1/witnesses/${bare.id}/identity`, { fullName: 'Someone Else' });
  t.same(partial.body, { fullName: 'Someone Else', contact: null, dateOfBirth: null, notes: null });

  const matrix: [RoleName | 'other investigator', TestUser | null, number][] = [
    ...ALL_ROLE_NAMES.map((role): [RoleName, TestUser | null, number] => [
      role,
      userFor(c, role),
      role === 'anonymous' ? 401 : role === 'lead' || role === 'investigator' ? 200 : 404,
    ]),
    ['other investigator', otherInvestigator, 404],
  ];
  for (const [role, user, status] of matrix) {
    const read = await call(user, 'GET', url);
    t.equal(read.status, status, `${role} reads the identity`);
    if (status === 200) t.same(read.body, IDENTITY);
    const write = await call(user, 'PUT', url, IDENTITY);
    t.equal(write.status, status, `${role} writes the identity`);
    if (status === 404) {
      // Same answer whether an identity exists or not, and for a witness that does not exist.
      const none = await call(user, 'GET', `/api/v1/witnesses/${bare.id}/identity`);
      const missing = await call(user, 'GET', '/api/v1/witnesses/00000000-0000-4000-8000-000000000000/identity');
      t.equal(none.status, 404);
      t.equal(none.body.detail, read.body.detail, `${role}: no existence oracle`);
      t.equal(missing.body.detail, read.body.detail);
    }
  }
  const listed = await ctx.json(c.users.reviewer, 'GET', `/api/v1/cases/${c.id}/witnesses`);
  t.same(listed.body.items.map((w: { hasIdentity: boolean }) => w.hasIdentity), [true, true]);
  t.notOk(JSON.stringify(listed.body).includes(IDENTITY.fullName), 'a witness never carries the identity');

  // At rest: ciphertext only.
  const rows = await ctx.db.$queryRaw<{ row: string }[]>`SELECT t::text AS row FROM witness_identities t`;
  t.equal(rows.length, 2);
  const raw = await ctx.db.witnessIdentity.findUniqueOrThrow({ where: { witnessId: witness.id } });
  const bytes = Buffer.concat([Buffer.from(raw.ciphertext), Buffer.from(raw.wrappedKey), Buffer.from(raw.masterKeyId)]);
  for (const value of Object.values(IDENTITY)) {
    t.notOk(bytes.includes(Buffer.from(value)), 'no plaintext in the identity columns');
    t.notOk(rows.some((r) => r.row.includes(value)), 'no plaintext in the row text');
  }
  t.equal(raw.masterKeyId, ctx.keys.masterRing.current.id);

  // A ciphertext copied onto another witness does not decrypt: 500, never the wrong identity.
  await ctx.db.witnessIdentity.update({ where: { witnessId: bare.id }, data: { ciphertext: raw.ciphertext, wrappedKey: raw.wrappedKey } });
  const moved = await call(c.users.lead, 'GET', `/api/v1/witnesses/${bare.id}/identity`);
  t.equal(moved.status, 500);
  t.equal(moved.body.code, 'internal');
  t.notOk(JSON.stringify(moved.body).includes(IDENTITY.fullName));
  t.ok(ctx.logs.some((line) => line.includes('a witness identity does not decrypt')), 'logged for the operator');
  t.throws(() => openRecord({ ciphertext: Buffer.from(raw.ciphertext), wrappedKey: Buffer.from(raw.wrappedKey), masterKeyId: raw.masterKeyId }, `witness-identity:${bare.id}`, ctx.keys.masterRing));

  // Erasure: only the lead (investigators see the witness: 403; others 404).
  const erasers: [string, TestUser | null, number][] = [
    ['anonymous', null, 401],
    ['admin', c.users.admin, 404],
    ['investigator (registrar)', registrar, 403],
    ['other investigator', otherInvestigator, 403],
    ['reviewer', c.users.reviewer, 404],
    ['counsel', c.users.counsel, 404],
    ['observer', c.users.observer, 404],
    ['outsider', c.users.outsider, 404],
  ];
  for (const [who, user, status] of erasers) {
    t.equal((await call(user, 'DELETE', url, { reason: 'asked' })).status, status, `${who} erases`);
  }
  t.equal((await call(c.users.lead, 'DELETE', url, {})).status, 400, 'a reason is required');
  const erased = await ctx.inject(c.users.lead, { method: 'DELETE', url, payload: { reason: 'The witness asked to be forgotten' } });
  t.equal(erased.statusCode, 204);
  t.equal(erased.body, '');
  t.equal(await ctx.db.witnessIdentity.count({ where: { witnessId: witness.id } }), 0, 'ciphertext and wrapped key are gone');
  const after = await ctx.json(registrar, 'GET', `/api/v1/witnesses/${witness.id}`);
  t.equal(after.body.hasIdentity, false);
  t.ok(after.body.identityErasedAt);
  t.equal((await call(c.users.lead, 'GET', url)).status, 410);
  t.equal((await call(registrar, 'GET', url)).body.code, 'gone');
  t.equal((await call(otherInvestigator, 'GET', url)).status, 404, 'still 404 for those who may not read');
  t.equal((await call(registrar, 'PUT', url, IDENTITY)).status, 410, 'an erased identity is not recorded again');
  t.equal((await call(c.users.lead, 'DELETE', url, { reason: 'again' })).status, 410);
  t.equal((await call(c.users.lead, 'DELETE', `/api/v1/witnesses/${bare.id}/identity`, { reason: 'x' })).status, 204);
  t.equal((await call(c.users.lead, 'DELETE', `/api/v1/witnesses/${bare.id}/identity`, { reason: 'x' })).status, 410);
  // Nothing of the identity is left anywhere in the database to decrypt.
  const everything = await ctx.db.$queryRaw<{ dump: string }[]>`
    SELECT concat_ws('|', (SELECT string_agg(t::text, '|') FROM witness_identities t), (SELECT string_agg(t::text, '|') FROM witnesses t),
      (SELECT string_agg(t::text, '|') FROM revisions t), (SELECT string_agg(t::text, '|') FROM audit_entries t)) AS dump`;
  const dump = everything[0]!.dump;
  t.notOk(dump.includes(Buffer.from(raw.ciphertext).toString('hex')), 'no copy of the ciphertext');
  t.notOk(dump.includes(Buffer.from(raw.wrappedKey).toString('hex')), 'no copy of the wrapped key');

  // The audit trail: every read, write, refusal and erasure, never the identity.
  const audit = await ctx.db.auditEntry.findMany({ where: { targetId: witness.id } });
  const outcomes = (action: string) => audit.filter((a) => a.action === action).map((a) => a.outcome);
  t.ok(outcomes('witness.identity.read').includes('success'));
  t.ok(outcomes('witness.identity.read').includes('denied'));
  t.ok(outcomes('witness.identity.read').includes('failure'));
  t.ok(outcomes('witness.identity.write').includes('success'));
  t.ok(outcomes('witness.identity.write').includes('denied'));
  t.same(outcomes('witness.identity.erase').filter((o) => o === 'success'), ['success']);
  t.ok(audit.some((a) => a.action === 'witness.identity.read' && a.outcome === 'denied' && a.actorId === otherInvestigator.id), 'the non-registering investigator is audited');
  const auditText = JSON.stringify(await ctx.db.$queryRaw`SELECT t::text FROM audit_entries t`);
  const revisionText = JSON.stringify(await ctx.db.$queryRaw`SELECT t::text FROM revisions t`);
  for (const value of Object.values(IDENTITY)) {
    t.notOk(auditText.includes(value), 'no identity in audit entries');
    t.notOk(revisionText.includes(value), 'no identity in revisions');
    t.notOk(bodies.slice(2).some((b) => b.includes(value) && !b.startsWith('{"fullName"')), 'no identity in problem bodies');
    t.notOk(ctx.logs.join('\n').includes(value), 'no identity in logs');
  }
});

t.test('keys rotate-master re-wraps identity and TOTP keys; only the new key is needed after', async (t) => {
  const ctx = await createTestContext(t);
  for (const value of Object.values(IDENTITY)) ctx.secrets.add(value);
  const c = await ctx.createCase();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { body } = await ctx.json(c.users.lead, 'POST', `/api/v1/cases/${c.id}/witnesses`, {});
    await ctx.json(c.users.lead, 'PUT', `/api/v1/witnesses/${body.id}/identity`, { ...IDENTITY, notes: `witness ${i}` });
    ids.push(body.id);
  }
  const totpSecret = Buffer.from('JBSWY3DPEHPK3PXP');
  const sealedTotp = sealRecord(totpSecret, `totp:${c.users.counsel.id}`, ctx.keys.masterRing);
  await ctx.db.user.update({
    where: { id: c.users.counsel.id },
    data: { totpSecret: new Uint8Array(sealedTotp.ciphertext), totpKey: new Uint8Array(sealedTotp.wrappedKey), totpKeyId: sealedTotp.masterKeyId },
  });
  const before = await ctx.db.witnessIdentity.findMany({ orderBy: { witnessId: 'asc' } });

  const newKey = generateMasterKey();
  const report = await rotateMasterKey(ctx.db, ctx.keys.masterRing, newKey);
  t.same(report, { witnessIdentities: 3, totpKeys: 1, alreadyCurrent: 0 });
  t.same(await rotateMasterKey(ctx.db, ctx.keys.masterRing, newKey), { witnessIdentities: 0, totpKeys: 0, alreadyCurrent: 4 }, 'idempotent');

  const onlyNew = createMasterKeyring(newKey);
  const after = await ctx.db.witnessIdentity.findMany({ orderBy: { witnessId: 'asc' } });
  after.forEach((row, i) => {
    t.equal(row.masterKeyId, newKey.id);
    t.same(Buffer.from(row.ciphertext), Buffer.from(before[i]!.ciphertext), 'the ciphertext is untouched');
    t.notSame(Buffer.from(row.wrappedKey), Buffer.from(before[i]!.wrappedKey));
    const identity = JSON.parse(
      openRecord({ ciphertext: Buffer.from(row.ciphertext), wrappedKey: Buffer.from(row.wrappedKey), masterKeyId: row.masterKeyId }, `witness-identity:${row.witnessId}`, onlyNew).toString(),
    );
    t.equal(identity.fullName, IDENTITY.fullName);
  });
  const user = await ctx.db.user.findUniqueOrThrow({ where: { id: c.users.counsel.id } });
  t.equal(user.totpKeyId, newKey.id);
  t.same(
    openRecord({ ciphertext: Buffer.from(user.totpSecret!), wrappedKey: Buffer.from(user.totpKey!), masterKeyId: user.totpKeyId! }, `totp:${user.id}`, onlyNew),
    totpSecret,
  );
  // The old key alone no longer opens anything.
  t.throws(() => openRecord({ ciphertext: Buffer.from(after[0]!.ciphertext), wrappedKey: Buffer.from(after[0]!.wrappedKey), masterKeyId: after[0]!.masterKeyId }, `witness-identity:${after[0]!.witnessId}`, ctx.keys.masterRing));
});
