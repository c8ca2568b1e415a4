// Every custody route against every role, bad input, and the shapes of the answers.
import t from 'tap';
import { Buffer } from 'node:buffer';
import { createPublicKey } from 'node:crypto';
import { verifyCheckpoint, parseCheckpoint } from '../../src/custody/index.ts';
import { ALL_ROLE_NAMES, createTestContext, userFor, type RoleName } from '../helpers/app.ts';
import { insertEvidence } from './factory.ts';

const ctx = await createTestContext(t);
const testCase = await ctx.createCase();
const evidence = await insertEvidence(ctx.db, testCase.id, testCase.users.investigator.id);
const otherEvidence = await insertEvidence(ctx.db, testCase.otherCaseId, testCase.users.outsider.id);

const READERS: RoleName[] = ['lead', 'investigator', 'reviewer', 'counsel'];
const APPENDERS: RoleName[] = ['lead', 'investigator', 'reviewer'];

function expectedRead(role: RoleName): number {
  if (role === 'anonymous') return 401;
  return READERS.includes(role) ? 200 : 404;
}

function expectedAppend(role: RoleName): number {
  if (role === 'anonymous') return 401;
  if (APPENDERS.includes(role)) return 201;
  return role === 'counsel' || role === 'observer' ? 403 : 404;
}

const entryCount = async () => ctx.db.custodyEntry.count({ where: { caseId: testCase.id } });
const queuedCount = async () => ctx.db.custodyQueue.count({ where: { caseId: testCase.id } });

t.test('appending a manual entry: every role', async (t) => {
  for (const role of ALL_ROLE_NAMES) {
    const before = await entryCount();
    const res = await ctx.json(userFor(testCase, role), 'POST', `/api/v1/evidence/${evidence.id}/custody`, {
      action: 'transferred',
      note: `handed over by ${role}`,
      location: 'Field office',
    });
    t.equal(res.status, expectedAppend(role), `${role} appends`);
    if (res.status === 201) {
      t.equal(res.body.seq, before, `${role}: seq follows`);
      t.match(res.body.leafHash, /^[0-9a-f]{64}$/);
      t.same(res.body.entry.details, { note: `handed over by ${role}`, location: 'Field office' });
      t.equal(res.body.entry.actorId, testCase.users[role as 'lead'].id);
      t.equal(res.body.entry.evidenceSha256, evidence.sha256);
      t.equal(res.body.entry.action, 'transferred');
      const audit = await ctx.db.auditEntry.findFirst({ where: { action: 'custody.append', actorId: testCase.users[role as 'lead'].id } });
      t.ok(audit, `${role}: audited`);
      t.notMatch(JSON.stringify(audit?.details), /handed over/, 'the note stays out of the audit trail');
    } else {
      t.match(res.headers['content-type'], /^application\/problem\+json/);
      t.equal(await entryCount(), before, `${role}: nothing written`);
      t.equal(await queuedCount(), 0, `${role}: nothing queued`);
    }
  }
  const lead = testCase.users.lead;
  const other = await ctx.json(lead, 'POST', `/api/v1/evidence/${otherEvidence.id}/custody`, { action: 'note', note: 'x' });
  t.equal(other.status, 404, "another case's item is 404");
  const missing = await ctx.json(lead, 'POST', '/api/v1/evidence/00000000-0000-4000-8000-000000000000/custody', { action: 'note', note: 'x' });
  t.equal(missing.status, 404);
  t.same(other.body.detail, missing.body.detail, 'same 404 as a missing item');
});

t.test('appending: bad bodies are 400 and write nothing', async (t) => {
  const lead = testCase.users.lead;
  const before = await entryCount();
  const url = `/api/v1/evidence/${evidence.id}/custody`;
  const bad: unknown[] = [
    { action: 'collected', note: 'system actions are not manual' },
    { action: 'accessed', note: 'x' },
    { action: 'destroyed', note: 'x' },
    { note: 'no action' },
    { action: 'note' },
    { action: 'note', note: 'x', extra: true },
    { action: 'note', note: 42 },
    { action: 'note', note: 'x'.repeat(10_001) },
    { action: 'note', note: 'x', location: '' },
    { action: 'note', note: 'x', location: 'y'.repeat(501) },
    [],
  ];
  for (const body of bad) {
    const res = await ctx.json(lead, 'POST', url, body);
    t.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
    t.equal(res.body.code, 'validation_failed');
  }
  const badId = await ctx.json(lead, 'POST', '/api/v1/evidence/not-a-uuid/custody', { action: 'note', note: 'x' });
  t.equal(badId.status, 400);
  t.equal(await entryCount(), before);
  t.equal(await queuedCount(), 0);
});

t.test('every manual action of the contract is accepted', async (t) => {
  for (const action of ['transferred', 'analysed', 'copied', 'sealed', 'note']) {
    const res = await ctx.json(testCase.users.reviewer, 'POST', `/api/v1/evidence/${evidence.id}/custody`, { action, note: '' });
    t.equal(res.status, 201, action);
    t.same(res.body.entry.details, { note: '' }, 'no location when none was given');
  }
});

t.test('read routes: every role', async (t) => {
  const urls = [
    `/api/v1/evidence/${evidence.id}/custody`,
    `/api/v1/cases/${testCase.id}/custody`,
    `/api/v1/cases/${testCase.id}/custody/checkpoint`,
    `/api/v1/cases/${testCase.id}/custody/proof?seq=0`,
    `/api/v1/cases/${testCase.id}/custody/consistency?from=1&to=2`,
    `/api/v1/cases/${testCase.id}/custody/verify`,
  ];
  for (const url of urls) {
    for (const role of ALL_ROLE_NAMES) {
      const res = await ctx.inject(userFor(testCase, role), { method: 'GET', url });
      t.equal(res.statusCode, expectedRead(role), `${role} GET ${url.replace(/^\/api\/v1/, '')}`);
    }
  }
  const otherUrls = [
    `/api/v1/evidence/${otherEvidence.id}/custody`,
    `/api/v1/cases/${testCase.otherCaseId}/custody`,
    `/api/v1/cases/${testCase.otherCaseId}/custody/checkpoint`,
    `/api/v1/cases/${testCase.otherCaseId}/custody/proof?seq=0`,
    `/api/v1/cases/${testCase.otherCaseId}/custody/consistency?from=0`,
    `/api/v1/cases/${testCase.otherCaseId}/custody/verify`,
  ];
  for (const url of otherUrls) {
    const res = await ctx.json(testCase.users.lead, 'GET', url);
    t.equal(res.status, 404, `other case: ${url}`);
    t.equal(res.body.code, 'not_found');
  }
  t.equal(await ctx.db.custodyCheckpoint.count({ where: { caseId: testCase.otherCaseId } }), 0, 'a refused request signs nothing');
});

t.test('lists: oldest first, keyset pages', async (t) => {
  const second = await insertEvidence(ctx.db, testCase.id, testCase.users.lead.id);
  await ctx.json(testCase.users.lead, 'POST', `/api/v1/evidence/${second.id}/custody`, { action: 'sealed', note: 'bag 7' });
  const total = await entryCount();
  const seen: number[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/api/v1/cases/${testCase.id}/custody?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
    const res: { status: number; body: any } = await ctx.json(testCase.users.counsel, 'GET', url);
    t.equal(res.status, 200);
    t.ok(res.body.items.length <= 3);
    seen.push(...res.body.items.map((i: { seq: number }) => i.seq));
    cursor = res.body.nextCursor;
  } while (cursor);
  t.same(seen, [...Array(total).keys()], 'every entry once, in log order');

  const item = await ctx.json(testCase.users.lead, 'GET', `/api/v1/evidence/${second.id}/custody`);
  t.equal(item.body.items.length, 1);
  t.equal(item.body.items[0].seq, total - 1);
  t.equal(item.body.items[0].entry.evidenceId, second.id);
  t.equal(item.body.nextCursor, null);
  const firstItem = await ctx.json(testCase.users.lead, 'GET', `/api/v1/evidence/${evidence.id}/custody?limit=200`);
  t.equal(firstItem.body.items.length, total - 1, 'only the entries of that item');

  for (const query of ['limit=0', 'limit=201', 'limit=x', 'cursor=%%%', `cursor=${Buffer.from('["a"]').toString('base64url')}`, 'other=1']) {
    const res = await ctx.json(testCase.users.lead, 'GET', `/api/v1/cases/${testCase.id}/custody?${query}`);
    t.equal(res.status, 400, query);
  }
  t.equal((await ctx.json(testCase.users.lead, 'GET', '/api/v1/cases/nope/custody')).status, 400);
});

t.test('proof and consistency parameters', async (t) => {
  const lead = testCase.users.lead;
  const size = await entryCount();
  const base = `/api/v1/cases/${testCase.id}/custody`;
  const ok = await ctx.json(lead, 'GET', `${base}/proof?seq=${size - 1}`);
  t.equal(ok.status, 200);
  t.equal(ok.body.size, size, 'size defaults to the log size');
  const bad = [
    `proof?seq=${size}`,
    `proof?seq=0&size=${size + 1}`,
    'proof?seq=3&size=3',
    'proof?seq=-1',
    'proof?seq=abc',
    'proof',
    'proof?seq=0&size=0',
    'proof?seq=0&extra=1',
    `consistency?from=0&to=${size + 1}`,
    'consistency?from=3&to=2',
    `consistency?from=${size + 1}`,
    'consistency?to=1',
    'consistency?from=x',
    'consistency?from=1.5',
  ];
  for (const query of bad) {
    const res = await ctx.json(lead, 'GET', `${base}/${query}`);
    t.equal(res.status, 400, query);
    t.equal(res.body.code, 'validation_failed');
  }
  const whole = await ctx.json(lead, 'GET', `${base}/consistency?from=0`);
  t.equal(whole.status, 200);
  t.same(whole.body.proof, []);
  t.equal(whole.body.to, size);
  t.equal(whole.body.fromRoot, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'the empty root');
});

t.test('published keys and the checkpoint text', async (t) => {
  const keys = await ctx.json(null, 'GET', '/api/v1/custody/keys');
  t.equal(keys.status, 200);
  t.equal(keys.body.keys.length, 1);
  const [key] = keys.body.keys;
  t.same({ keyId: key.keyId, name: key.name, status: key.status }, { keyId: ctx.keys.signing.keyId, name: 'custodia-test', status: 'current' });
  t.equal(key.publicKeyPem, ctx.keys.signing.publicKeyPem);
  t.notMatch(JSON.stringify(keys.body), /PRIVATE/);

  const res = await ctx.inject(testCase.users.reviewer, { method: 'GET', url: `/api/v1/cases/${testCase.id}/custody/checkpoint` });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  const note = res.body;
  const size = await entryCount();
  t.ok(note.startsWith(`custodia/${ctx.config.instanceId}/cases/${testCase.id}\n${size}\n`));
  t.ok(verifyCheckpoint(note, createPublicKey(key.publicKeyPem), key.name));
  t.equal(parseCheckpoint(note).size, size);

  const again = await ctx.inject(testCase.users.lead, { method: 'GET', url: `/api/v1/cases/${testCase.id}/custody/checkpoint` });
  t.equal(again.body, note, 'the same checkpoint while the log has not grown');
  t.equal(await ctx.db.custodyCheckpoint.count({ where: { caseId: testCase.id, size: BigInt(size) } }), 1);

  const empty = await ctx.inject(testCase.users.outsider, { method: 'GET', url: `/api/v1/cases/${testCase.otherCaseId}/custody/checkpoint` });
  t.equal(empty.statusCode, 200, 'an empty log has a checkpoint too');
  t.match(empty.body, /\n0\n47DEQpj8HBSa\+\/TImW\+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n/);
  const verify = await ctx.json(testCase.users.outsider, 'GET', `/api/v1/cases/${testCase.otherCaseId}/custody/verify`);
  t.same(verify.body, { valid: true, size: 0, rootHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', checkpoint: empty.body });
});
