import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor, type RoleName } from '../helpers/app.ts';

const READERS: RoleName[] = ['lead', 'investigator', 'reviewer', 'counsel'];
const WRITERS: RoleName[] = ['lead', 'investigator'];

function expected(role: RoleName, allowed: RoleName[], okStatus: number, visible: RoleName[] = []): number {
  if (role === 'anonymous') return 401;
  if (allowed.includes(role)) return okStatus;
  return visible.includes(role) ? 403 : 404;
}

t.test('witnesses: the role matrix of every route', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const lead = c.users.lead;
  const other = await ctx.json(c.users.outsider, 'POST', `/api/v1/cases/${c.otherCaseId}/witnesses`, {});
  t.equal(other.status, 201);

  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(c, role);
    const created = await ctx.json(user, 'POST', `/api/v1/cases/${c.id}/witnesses`, { riskLevel: 'high' });
    t.equal(created.status, expected(role, WRITERS, 201, READERS), `${role} registers`);
    const { body: witness } = await ctx.json(lead, 'POST', `/api/v1/cases/${c.id}/witnesses`, {});
    t.equal((await ctx.json(user, 'GET', `/api/v1/cases/${c.id}/witnesses`)).status, expected(role, READERS, 200), `${role} lists`);
    t.equal((await ctx.json(user, 'GET', `/api/v1/witnesses/${witness.id}`)).status, expected(role, READERS, 200), `${role} reads`);
    const patched = await ctx.json(user, 'PATCH', `/api/v1/witnesses/${witness.id}`, { consent: { interview: true } }, { 'if-match': '"1"' });
    t.equal(patched.status, expected(role, WRITERS, 200, READERS), `${role} edits`);
    const version = patched.status === 200 ? 2 : 1;
    const retracted = await ctx.json(user, 'POST', `/api/v1/witnesses/${witness.id}/retract`, { reason: 'registered twice' }, { 'if-match': `"${version}"` });
    t.equal(retracted.status, expected(role, WRITERS, 200, READERS), `${role} retracts`);
    t.equal((await ctx.json(user, 'GET', `/api/v1/witnesses/${witness.id}/revisions`)).status, expected(role, READERS, 200), `${role} reads revisions`);
    if (role !== 'outsider' && role !== 'anonymous') {
      t.equal((await ctx.json(user, 'GET', `/api/v1/witnesses/${other.body.id}`)).status, 404, `${role}: another case's witness`);
      t.equal((await ctx.json(user, 'GET', `/api/v1/witnesses/${other.body.id}/identity`)).status, 404);
    }
  }
});

t.test('witnesses: record, consent, If-Match, revisions, bad input', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const inv = c.users.investigator;
  const created = await ctx.json(inv, 'POST', `/api/v1/cases/${c.id}/witnesses`, { riskLevel: 'extreme', consent: { interview: true, notes: 'oral consent' } });
  t.equal(created.status, 201);
  t.match(created.body, {
    code: 'W-0001',
    riskLevel: 'extreme',
    consent: { interview: true, useInProceedings: false, shareWithAccountabilityBodies: false, identityDisclosure: false, contactAllowed: false, notes: 'oral consent' },
    registeredBy: inv.id,
    hasIdentity: false,
    identityErasedAt: null,
    retraction: null,
    version: 1,
  });
  const id = created.body.id;
  for (const [body, path] of [
    [{ riskLevel: 'severe' }, 'body.riskLevel'],
    [{ code: 'W-0099' }, 'body.code'],
    [{ consent: { interview: 'yes' } }, 'body.consent.interview'],
    [{ consent: { notes: 'x'.repeat(5001) } }, 'body.consent.notes'],
    [{ registeredBy: inv.id }, 'body.registeredBy'],
  ] as const) {
    const res = await ctx.json(inv, 'POST', `/api/v1/cases/${c.id}/witnesses`, body);
    t.equal(res.status, 400, JSON.stringify(body).slice(0, 40));
    t.equal(res.body.errors[0].path, path);
  }
  t.equal(await ctx.db.witness.count({ where: { caseId: c.id } }), 1, 'nothing written');
  t.equal((await ctx.json(inv, 'PATCH', `/api/v1/witnesses/${id}`, { riskLevel: 'low' })).status, 428);
  t.equal((await ctx.json(inv, 'PATCH', `/api/v1/witnesses/${id}`, { riskLevel: 'low' }, { 'if-match': '"1"' })).status, 200);
  const stale = await ctx.json(c.users.lead, 'PATCH', `/api/v1/witnesses/${id}`, { riskLevel: 'high' }, { 'if-match': '"1"' });
  t.equal(stale.status, 412);
  const now = await ctx.json(inv, 'GET', `/api/v1/witnesses/${id}`);
  t.equal(now.body.riskLevel, 'low', 'nothing changed by the stale PATCH');
  t.equal(now.body.consent.notes, 'oral consent', 'consent keys not given stay');
  const revisions = await ctx.json(c.users.counsel, 'GET', `/api/v1/witnesses/${id}/revisions`);
  t.same(revisions.body.items.map((r: { version: number }) => r.version), [1, 2]);
  t.same(revisions.body.items[1].changes, [{ field: 'riskLevel', from: 'extreme', to: 'low' }]);

  const listed = await ctx.json(c.users.reviewer, 'GET', `/api/v1/cases/${c.id}/witnesses`);
  t.equal(listed.body.items[0].hasIdentity, false);
  t.notOk('identity' in listed.body.items[0]);
});

t.test('witnesses: 20 concurrent registrations give W-0001…W-0020', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => ctx.json(i % 2 ? c.users.lead : c.users.investigator, 'POST', `/api/v1/cases/${c.id}/witnesses`, {})),
  );
  t.same(results.map((r) => r.status), Array(20).fill(201));
  const codes = results.map((r) => r.body.code as string).sort();
  t.same(codes, Array.from({ length: 20 }, (_, i) => `W-${String(i + 1).padStart(4, '0')}`));
  // Another case counts on its own.
  const other = await ctx.json(c.users.outsider, 'POST', `/api/v1/cases/${c.otherCaseId}/witnesses`, {});
  t.equal(other.body.code, 'W-0001');
  // Pages give every witness once, newest first.
  const first = await ctx.json(c.users.lead, 'GET', `/api/v1/cases/${c.id}/witnesses?limit=15`);
  const second = await ctx.json(c.users.lead, 'GET', `/api/v1/cases/${c.id}/witnesses?limit=15&cursor=${first.body.nextCursor}`);
  const listed = [...first.body.items, ...second.body.items].map((w: { code: string }) => w.code);
  t.same(listed, [...codes].reverse());
  t.equal(second.body.nextCursor, null);
});
