import t from 'tap';
import { ALL_ROLE_NAMES, type RoleName, createTestContext, userFor } from '../helpers/app.ts';

const API = '/api/v1';
const ctx = await createTestContext(t);

t.test('role matrix for the audit routes', async (t) => {
  const c = await ctx.createCase();
  const all: Record<RoleName, number> = { anonymous: 401, admin: 200, lead: 403, investigator: 403, reviewer: 403, counsel: 403, observer: 403, outsider: 403 };
  const ofCase: Record<RoleName, number> = { anonymous: 401, admin: 404, lead: 200, investigator: 404, reviewer: 404, counsel: 404, observer: 404, outsider: 404 };
  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(c, role);
    const global = await ctx.json(user, 'GET', `${API}/audit`);
    t.equal(global.status, all[role], `GET /audit as ${role}`);
    const local = await ctx.json(user, 'GET', `${API}/cases/${c.id}/audit`);
    t.equal(local.status, ofCase[role], `GET /cases/{id}/audit as ${role}`);
    if (local.status === 404) t.equal(local.body.code, 'not_found');
  }
  // The outsider leads another case: its audit is theirs, this one's is not.
  t.equal((await ctx.json(c.users.outsider, 'GET', `${API}/cases/${c.otherCaseId}/audit`)).status, 200);
  t.equal((await ctx.json(c.users.lead, 'GET', `${API}/cases/${c.otherCaseId}/audit`)).status, 404);
});

t.test('case and membership changes are audited and readable with filters and pages', async (t) => {
  const admin = await ctx.createUser({ role: 'admin' });
  const lead = await ctx.createUser();
  const helper = await ctx.createUser();
  const started = new Date();
  const created = await ctx.json(admin, 'POST', `${API}/cases`, { reference: `AUD-${Date.now()}`, title: 'Audited', leadUserId: lead.id });
  t.equal(created.status, 201);
  const caseId = created.body.id as string;
  const members = `${API}/cases/${caseId}/members/${helper.id}`;
  t.equal((await ctx.json(lead, 'PUT', members, { role: 'investigator' })).status, 200);
  t.equal((await ctx.json(lead, 'PUT', members, { role: 'reviewer' })).status, 200);
  t.equal((await ctx.json(admin, 'DELETE', members)).status, 204);
  t.equal((await ctx.json(lead, 'PATCH', `${API}/cases/${caseId}`, { status: 'closed' }, { 'if-match': '"1"' })).status, 200);
  // A refused change leaves no success entry.
  t.equal((await ctx.json(lead, 'DELETE', `${API}/cases/${caseId}/members/${lead.id}`)).status, 409);

  const log = await ctx.json(lead, 'GET', `${API}/cases/${caseId}/audit`, undefined, { 'user-agent': 'audit-test' });
  t.equal(log.status, 200);
  t.same(log.body.items.map((e: { action: string }) => e.action), ['case.update', 'member.remove', 'member.put', 'member.put', 'case.create'], 'newest first');
  const [update, remove, put2, put1, create] = log.body.items;
  t.same(Object.keys(create).sort(), ['action', 'actorId', 'address', 'at', 'caseId', 'details', 'id', 'outcome', 'requestId', 'targetId', 'targetType', 'userAgent']);
  t.match(create, { id: String, actorId: admin.id, outcome: 'success', targetType: 'case', targetId: caseId, caseId, requestId: created.headers['x-request-id'], address: String });
  t.match(put1, { actorId: lead.id, targetType: 'user', targetId: helper.id, details: { roleBefore: null, roleAfter: 'investigator' } });
  t.match(put2, { details: { roleBefore: 'investigator', roleAfter: 'reviewer' } });
  t.match(remove, { actorId: admin.id, details: { roleBefore: 'reviewer', roleAfter: null } });
  t.match(update, { details: { fields: ['status'], statusBefore: 'open', statusAfter: 'closed' } });
  t.ok(log.body.items.every((e: { id: string }) => /^\d+$/.test(e.id)), 'ids are strings of digits');
  t.ok(new Date(create.at) >= new Date(started.getTime() - 1000));

  // Filters.
  const ids = (r: { body: { items: { id: string }[] } }) => r.body.items.map((e) => e.id);
  const q = (query: string) => ctx.json(lead, 'GET', `${API}/cases/${caseId}/audit?${query}`);
  t.same(ids(await q('action=member.put')), [put2.id, put1.id]);
  t.same(ids(await q(`actorId=${admin.id}`)), [remove.id, create.id]);
  t.same(ids(await q(`targetId=${helper.id}`)), [remove.id, put2.id, put1.id]);
  t.same(ids(await q('outcome=denied')), []);
  t.same(ids(await q(`action=member.put&actorId=${admin.id}`)), []);
  t.same(ids(await q(`from=${encodeURIComponent(put1.at)}&to=${encodeURIComponent(remove.at)}`)).includes(remove.id), false, '`to` is exclusive');
  t.ok(ids(await q(`from=${encodeURIComponent(put1.at)}`)).includes(put1.id), '`from` is inclusive');
  t.same(ids(await q(`to=${encodeURIComponent(started.toISOString())}`)), [], 'nothing before the start');

  // Pages: limit 2, cursors, no duplicates, in order.
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10; i++) {
    const page: { status: number; body: any } = await q(`limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(page.status, 200);
    seen.push(...ids(page));
    cursor = page.body.nextCursor;
    if (!cursor) break;
  }
  t.same(seen, ids(log), 'pages join up');
  // Entries added while paging never shift a page.
  const first = await q('limit=2');
  await ctx.json(lead, 'PUT', members, { role: 'observer' });
  const second = await q(`limit=2&cursor=${first.body.nextCursor}`);
  t.same([...ids(first), ...ids(second)], ids(log).slice(0, 4));

  // The admin's trail has the same entries, with a case filter too.
  const global = await ctx.json(admin, 'GET', `${API}/audit?caseId=${caseId}&limit=200`);
  t.equal(global.status, 200);
  t.same(ids(global).slice(1), ids(log), 'admin sees the case entries');
  const byAction = await ctx.json(admin, 'GET', `${API}/audit?action=case.create&actorId=${admin.id}`);
  t.same(ids(byAction), [create.id]);
});

t.test('bad audit queries are 400 problems', async (t) => {
  const c = await ctx.createCase();
  const admin = c.users.admin;
  for (const query of [
    'actorId=not-a-uuid',
    'outcome=maybe',
    'from=yesterday',
    'to=2026-13-45T00:00:00Z',
    'limit=0',
    'limit=1000',
    'cursor=garbage',
    `cursor=${Buffer.from('["12x"]').toString('base64url')}`,
    `cursor=${Buffer.from('["99999999999999999999"]').toString('base64url')}`,
    `cursor=${Buffer.from('[12]').toString('base64url')}`,
    'unknown=1',
    `action=${'a'.repeat(101)}`,
    'from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
  ]) {
    const response = await ctx.json(admin, 'GET', `${API}/audit?${query}`);
    t.equal(response.status, 400, query.slice(0, 60));
    t.equal(response.body.code, 'validation_failed');
    const local = await ctx.json(c.users.lead, 'GET', `${API}/cases/${c.id}/audit?${query}`);
    t.equal(local.status, 400, `case audit: ${query.slice(0, 60)}`);
  }
  t.equal((await ctx.json(c.users.lead, 'GET', `${API}/cases/not-a-uuid/audit`)).status, 400);
  t.equal((await ctx.json(admin, 'GET', `${API}/audit?caseId=nope`)).status, 400);
  t.notOk(ctx.logs.some((line) => line.includes('"level":50')), 'no unexpected error logged');
});
