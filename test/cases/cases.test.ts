import t, { type Test } from 'tap';
import { sqlPool } from '../../src/database/client.ts';
import { hashToken, newToken } from '../../src/modules/auth/tokens.ts';
import { ALL_ROLE_NAMES, type RoleName, createTestContext, userFor } from '../helpers/app.ts';

const CASES = '/api/v1/cases';
// One app and database for the whole file (a context is slow to build); each test makes its own cases.
const ctx = await createTestContext(t);

function isProblem(t: Test, response: { status: number; headers: Record<string, unknown>; body: any }, status: number, code?: string) {
  t.equal(response.status, status, `status ${status}`);
  t.match(String(response.headers['content-type']), /^application\/problem\+json/);
  if (code) t.equal(response.body?.code, code);
}

t.test('role matrix for the case routes', async (t) => {
  const c = await ctx.createCase();

  const create: Record<RoleName, number> = { anonymous: 401, admin: 201, lead: 403, investigator: 403, reviewer: 403, counsel: 403, observer: 403, outsider: 403 };
  const view: Record<RoleName, number> = { anonymous: 401, admin: 200, lead: 200, investigator: 200, reviewer: 200, counsel: 200, observer: 200, outsider: 404 };
  const update: Record<RoleName, number> = { anonymous: 401, admin: 403, lead: 200, investigator: 403, reviewer: 403, counsel: 403, observer: 403, outsider: 404 };
  const revisions: Record<RoleName, number> = { anonymous: 401, admin: 404, lead: 200, investigator: 200, reviewer: 200, counsel: 200, observer: 404, outsider: 404 };

  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(c, role);
    const created = await ctx.json(user, 'POST', CASES, { reference: `M-${role}`, title: 'Matrix', leadUserId: c.users.lead.id });
    t.equal(created.status, create[role], `POST /cases as ${role}`);

    const list = await ctx.json(user, 'GET', CASES);
    t.equal(list.status, role === 'anonymous' ? 401 : 200, `GET /cases as ${role}`);
    if (list.status === 200) {
      const ids = list.body.items.map((item: { id: string }) => item.id);
      t.equal(ids.includes(c.id), role !== 'outsider', `GET /cases as ${role} lists the case or not`);
    }

    const read = await ctx.json(user, 'GET', `${CASES}/${c.id}`);
    t.equal(read.status, view[role], `GET /cases/{id} as ${role}`);
    if (read.status === 200) t.equal(read.headers.etag, `"${read.body.version}"`);

    const current = await ctx.db.case.findUniqueOrThrow({ where: { id: c.id } });
    const patched = await ctx.json(user, 'PATCH', `${CASES}/${c.id}`, { title: `Edited by ${role}` }, { 'if-match': `"${current.version}"` });
    t.equal(patched.status, update[role], `PATCH /cases/{id} as ${role}`);

    const history = await ctx.json(user, 'GET', `${CASES}/${c.id}/revisions`);
    t.equal(history.status, revisions[role], `GET /cases/{id}/revisions as ${role}`);
    if (history.status !== 200 && role !== 'anonymous') t.equal(history.body.code, 'not_found');
  }

  // Refusals and invisibility are indistinguishable from a missing case.
  const missing = await ctx.json(c.users.outsider, 'GET', `${CASES}/00000000-0000-4000-8000-000000000000`);
  const hidden = await ctx.json(c.users.outsider, 'GET', `${CASES}/${c.id}`);
  t.equal(missing.status, 404);
  t.same({ ...hidden.body, instance: null }, { ...missing.body, instance: null }, 'same body for hidden and missing');
  // The lead of another case sees nothing of this one.
  t.equal((await ctx.json(c.users.outsider, 'PATCH', `${CASES}/${c.id}`, { title: 'x' }, { 'if-match': '"1"' })).status, 404);
});

t.test('an admin creates a case naming its lead, and becomes nothing in it', async (t) => {
  const admin = await ctx.createUser({ role: 'admin' });
  const lead = await ctx.createUser();
  const created = await ctx.json(admin, 'POST', CASES, { reference: 'ICC-01/04-01/06', title: 'Ituri', description: 'Recruitment of children.', leadUserId: lead.id });
  t.equal(created.status, 201);
  t.match(created.body, { id: String, reference: 'ICC-01/04-01/06', title: 'Ituri', description: 'Recruitment of children.', status: 'open', version: 1, createdAt: String });
  t.same(Object.keys(created.body).sort(), ['createdAt', 'description', 'id', 'reference', 'status', 'title', 'version']);
  t.equal(created.headers.etag, '"1"');
  const id = created.body.id as string;

  const memberships = await ctx.db.caseMembership.findMany({ where: { caseId: id } });
  t.same(memberships.map((m) => [m.userId, m.role, m.expiresAt]), [[lead.id, 'lead', null]], 'only the lead is a member');

  const revisions = await ctx.db.revision.findMany({ where: { entityType: 'case', entityId: id } });
  t.equal(revisions.length, 1);
  t.equal(revisions[0]!.version, 1);
  t.match(revisions[0]!.snapshot, { reference: 'ICC-01/04-01/06', title: 'Ituri', status: 'open' });

  const entries = await ctx.db.auditEntry.findMany({ where: { caseId: id } });
  t.match(entries, [{ action: 'case.create', outcome: 'success', actorId: admin.id, targetType: 'case', targetId: id, details: { leadUserId: lead.id } }]);

  // The admin reads the record, but no content-bearing route.
  t.equal((await ctx.json(admin, 'GET', `${CASES}/${id}`)).status, 200);
  t.equal((await ctx.json(admin, 'GET', `${CASES}/${id}/audit`)).status, 404, 'admin is not a lead: the case audit is 404');
  t.equal((await ctx.json(admin, 'GET', `${CASES}/${id}/revisions`)).status, 404);
  // The lead reads it and sees it listed.
  t.equal((await ctx.json(lead, 'GET', `${CASES}/${id}`)).status, 200);
  t.same((await ctx.json(lead, 'GET', CASES)).body.items.map((i: { id: string }) => i.id), [id], 'the lead lists it');

  // Duplicate reference: 409, nothing written.
  const before = await counts();
  const duplicate = await ctx.json(admin, 'POST', CASES, { reference: 'ICC-01/04-01/06', title: 'Again', leadUserId: lead.id });
  isProblem(t, duplicate, 409, 'conflict');
  t.same(await counts(), before, 'nothing written');
});

async function counts() {
  return {
    cases: await ctx.db.case.count(),
    memberships: await ctx.db.caseMembership.count(),
    audit: await ctx.db.auditEntry.count(),
    revisions: await ctx.db.revision.count(),
  };
}

t.test('POST /cases refuses bad input with a 4xx problem and writes nothing', async (t) => {
  const admin = await ctx.createUser({ role: 'admin' });
  const lead = await ctx.createUser();
  const disabled = await ctx.createUser();
  await ctx.db.user.update({ where: { id: disabled.id }, data: { disabled: true } });
  const good = { reference: 'REF-1', title: 'A case', leadUserId: lead.id };
  const before = await counts();

  const cases: [string, unknown, string][] = [
    ['unknown property', { ...good, extra: 1 }, 'body.extra'],
    ['missing reference', { title: 'x', leadUserId: lead.id }, 'body.reference'],
    ['missing title', { reference: 'R', leadUserId: lead.id }, 'body.title'],
    ['missing lead', { reference: 'R', title: 'x' }, 'body.leadUserId'],
    ['object title', { ...good, title: { a: 1 } }, 'body.title'],
    ['boolean reference', { ...good, reference: true }, 'body.reference'],
    ['null description', { ...good, description: null }, 'body.description'],
    ['array lead', { ...good, leadUserId: [lead.id, lead.id] }, 'body.leadUserId'],
    ['empty title', { ...good, title: '' }, 'body.title'],
    ['blank title', { ...good, title: '   ' }, 'body.title'],
    ['control characters in reference', { ...good, reference: 'A\nB' }, 'body.reference'],
    ['huge reference', { ...good, reference: 'R'.repeat(65) }, 'body.reference'],
    ['huge title', { ...good, title: 't'.repeat(301) }, 'body.title'],
    ['huge description', { ...good, description: 'd'.repeat(20_001) }, 'body.description'],
    ['invalid uuid', { ...good, leadUserId: 'not-a-uuid' }, 'body.leadUserId'],
    ['unknown lead', { ...good, leadUserId: '00000000-0000-4000-8000-000000000000' }, 'body.leadUserId'],
    ['disabled lead', { ...good, leadUserId: disabled.id }, 'body.leadUserId'],
    ['array body', [good], 'body'],
  ];
  for (const [name, body, path] of cases) {
    const response = await ctx.json(admin, 'POST', CASES, body);
    isProblem(t, response, 400, 'validation_failed');
    t.ok(response.body.errors?.some((e: { path: string }) => e.path === path), `${name}: names ${path} (${JSON.stringify(response.body.errors)})`);
  }
  const malformed = await ctx.inject(admin, { method: 'POST', url: CASES, headers: { 'content-type': 'application/json' }, payload: '{"reference": "R",' });
  t.equal(malformed.statusCode, 400, 'malformed JSON');
  const text = await ctx.inject(admin, { method: 'POST', url: CASES, headers: { 'content-type': 'text/csv' }, payload: 'a,b\n' });
  t.equal(text.statusCode, 415, 'wrong content type');
  t.same(await counts(), before, 'nothing written');
  t.notOk(ctx.logs.some((line) => line.includes('"level":50')), 'no unexpected error logged');
});

t.test('GET /cases: admins list all, members their live cases, newest first, paginated', async (t) => {
  const admin = await ctx.createUser({ role: 'admin' });
  const lead = await ctx.createUser();
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const created = await ctx.json(admin, 'POST', CASES, { reference: `P-${i}`, title: `Case ${i}`, leadUserId: lead.id });
    ids.push(created.body.id);
  }
  const expired = await ctx.createUser();
  await ctx.addMember(ids[0]!, expired.id, 'investigator', new Date(Date.now() - 1000));
  await ctx.addMember(ids[1]!, expired.id, 'observer', new Date(Date.now() + 3600_000));

  async function all(user: typeof admin, limit: number) {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const page: { status: number; body: any } = await ctx.json(user, 'GET', `${CASES}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      t.equal(page.status, 200);
      t.ok(page.body.items.length <= limit);
      seen.push(...page.body.items.map((i: { id: string }) => i.id));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    return seen;
  }
  const everything = await all(admin, 2);
  t.equal(new Set(everything).size, everything.length, 'admin: no duplicate across pages');
  t.equal(everything.length, await ctx.db.case.count(), 'admin: every case');
  t.same(everything.filter((id) => ids.includes(id)), [...ids].reverse(), 'newest first');
  t.same(await all(lead, 3), [...ids].reverse(), 'the lead: their cases');
  t.same(await all(expired, 50), [ids[1]], 'an expired membership lists nothing');

  t.equal((await ctx.json(admin, 'GET', `${CASES}?cursor=garbage`)).status, 400);
  const forged = Buffer.from(JSON.stringify(['2026-99-99', 'x'])).toString('base64url');
  t.equal((await ctx.json(admin, 'GET', `${CASES}?cursor=${forged}`)).status, 400, 'a forged cursor is a 400, not a 500');
  t.equal((await ctx.json(admin, 'GET', `${CASES}?limit=0`)).status, 400);
  t.equal((await ctx.json(admin, 'GET', `${CASES}?limit=201`)).status, 400);
  t.equal((await ctx.json(admin, 'GET', `${CASES}?limit=abc`)).status, 400);
  t.equal((await ctx.json(admin, 'GET', `${CASES}?other=1`)).status, 400, 'unknown query parameter');
});

t.test('an expired membership grants nothing', async (t) => {
  const c = await ctx.createCase();
  await ctx.addMember(c.id, c.users.investigator.id, 'investigator', new Date(Date.now() - 1000));
  await ctx.addMember(c.id, c.users.lead.id, 'lead', new Date(Date.now() - 1000));
  t.equal((await ctx.json(c.users.investigator, 'GET', `${CASES}/${c.id}`)).status, 404);
  t.equal((await ctx.json(c.users.lead, 'GET', `${CASES}/${c.id}`)).status, 404);
  t.equal((await ctx.json(c.users.lead, 'PATCH', `${CASES}/${c.id}`, { title: 'x' }, { 'if-match': '"1"' })).status, 404);
  t.equal((await ctx.json(c.users.lead, 'GET', `${CASES}/${c.id}/audit`)).status, 404);
  t.equal((await ctx.json(c.users.reviewer, 'GET', `${CASES}/${c.id}`)).status, 200, 'a live member still reads it');
});

t.test('GET /cases/{id} reads the session and the case in one statement, and refuses as before', async (t) => {
  const c = await ctx.createCase();
  const url = `${CASES}/${c.id}`;
  const pool = sqlPool(ctx.db);
  const query = pool.query;
  const statements: string[] = [];
  pool.query = function (this: typeof pool, ...args: Parameters<typeof query>) {
    const first = args[0] as string | { text: string };
    statements.push(typeof first === 'string' ? first : first.text);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  let read;
  try {
    read = await ctx.json(c.users.investigator, 'GET', url);
  } finally {
    pool.query = query;
  }
  t.equal(read.status, 200);
  t.match(read.body, { id: c.id, reference: c.reference, title: `Case ${c.reference}`, description: '', status: 'open', version: 1, createdAt: String });
  t.equal(statements.length, 1, 'one statement: session, membership and case');
  t.match(statements[0], /FROM sessions s JOIN users u/);

  // The same answers as without the shortcut.
  t.equal((await ctx.json(c.users.investigator, 'GET', url.toUpperCase().replace('/API/V1/CASES', CASES))).status, 200, 'an upper-case id');
  t.equal((await ctx.json(c.users.investigator, 'GET', `${CASES}/not-a-uuid`)).status, 400, 'a malformed id fails validation, not SQL');
  t.equal((await ctx.json(c.users.investigator, 'GET', `${CASES}/00000000-0000-4000-8000-000000000000`)).status, 404, 'no such case');
  t.equal((await ctx.json(c.users.admin, 'GET', url)).status, 200, 'an admin without membership');
  t.equal((await ctx.json(c.users.outsider, 'GET', url)).status, 404, 'a member of another case');
  t.equal((await ctx.json(null, 'GET', url, undefined, { authorization: `Bearer ${newToken().token}` })).status, 401, 'an unknown token');

  const session = (user: { token: string }) => ({ tokenHash: new Uint8Array(hashToken(user.token)) });
  const dead: Array<[string, () => Promise<unknown>]> = [
    ['a revoked token', () => ctx.db.session.updateMany({ where: session(c.users.reviewer), data: { revokedAt: new Date() } })],
    ['an expired token', () => ctx.db.session.updateMany({ where: session(c.users.counsel), data: { expiresAt: new Date(Date.now() - 1000) } })],
    ['an idle token', () => ctx.db.session.updateMany({ where: session(c.users.observer), data: { lastUsedAt: new Date(Date.now() - (ctx.config.tokenIdleSeconds + 1) * 1000) } })],
    ['a disabled user', () => ctx.db.user.update({ where: { id: c.users.lead.id }, data: { disabled: true } })],
  ];
  const owners = [c.users.reviewer, c.users.counsel, c.users.observer, c.users.lead];
  for (const [i, [what, kill]] of dead.entries()) {
    t.equal((await ctx.json(owners[i]!, 'GET', url)).status, 200, `before: ${what}`);
    await kill();
    const refused = await ctx.json(owners[i]!, 'GET', url);
    t.equal(refused.status, 401, what);
    t.notOk(JSON.stringify(refused.body).includes(c.reference), `${what}: nothing of the case`);
  }
});

t.test('PATCH /cases/{id}: If-Match, revisions, audit, bad input', async (t) => {
  const c = await ctx.createCase();
  const url = `${CASES}/${c.id}`;
  const lead = c.users.lead;

  isProblem(t, await ctx.json(lead, 'PATCH', url, { title: 'New' }), 428, 'precondition_required');
  isProblem(t, await ctx.json(lead, 'PATCH', url, { title: 'New' }, { 'if-match': '"7"' }), 412, 'precondition_failed');
  isProblem(t, await ctx.json(lead, 'PATCH', url, { title: 'New' }, { 'if-match': 'garbage' }), 412, 'precondition_failed');

  const first = await ctx.json(lead, 'PATCH', url, { title: 'New title', status: 'closed' }, { 'if-match': '"1"' });
  t.equal(first.status, 200);
  t.match(first.body, { title: 'New title', status: 'closed', version: 2 });
  t.equal(first.headers.etag, '"2"');
  isProblem(t, await ctx.json(lead, 'PATCH', url, { title: 'Stale' }, { 'if-match': '"1"' }), 412, 'precondition_failed');
  const second = await ctx.json(lead, 'PATCH', url, { description: 'Details' }, { 'if-match': first.headers.etag as string });
  t.match(second.body, { description: 'Details', version: 3, title: 'New title' });
  const same = await ctx.json(lead, 'PATCH', url, { description: 'Details' }, { 'if-match': '"3"' });
  t.match(same.body, { version: 3 }, 'no change, no new version');

  const history = await ctx.json(lead, 'GET', `${url}/revisions`);
  t.equal(history.status, 200);
  // ctx.createCase writes rows directly (no revision 1); the two changes are there, oldest first.
  t.match(history.body.items, [
    { version: 2, by: lead.id, changes: [{ field: 'title', to: 'New title' }, { field: 'status', from: 'open', to: 'closed' }] },
    { version: 3, by: lead.id, changes: [{ field: 'description', from: '', to: 'Details' }], snapshot: { description: 'Details' } },
  ]);
  const paged = await ctx.json(lead, 'GET', `${url}/revisions?limit=1`);
  t.equal(paged.body.items.length, 1);
  const next = await ctx.json(lead, 'GET', `${url}/revisions?limit=1&cursor=${paged.body.nextCursor}`);
  t.equal(next.body.items[0].version, 3);

  const updates = await ctx.db.auditEntry.findMany({ where: { caseId: c.id, action: 'case.update' }, orderBy: { id: 'asc' } });
  t.match(updates, [
    { actorId: lead.id, outcome: 'success', details: { fields: ['title', 'status'], statusBefore: 'open', statusAfter: 'closed' } },
    { actorId: lead.id, details: { fields: ['description'] } },
  ]);

  const before = await counts();
  const bad: [string, unknown][] = [
    ['empty body', {}],
    ['unknown property', { title: 'x', reference: 'NEW' }],
    ['object title', { title: { x: 1 } }],
    ['unknown status', { status: 'deleted' }],
    ['huge title', { title: 'x'.repeat(301) }],
    ['null title', { title: null }],
  ];
  for (const [name, body] of bad) {
    const response = await ctx.json(lead, 'PATCH', url, body, { 'if-match': '"3"' });
    t.equal(response.status, 400, name);
    t.equal(response.body.code, 'validation_failed', name);
  }
  const malformed = await ctx.inject(lead, { method: 'PATCH', url, headers: { 'content-type': 'application/json', 'if-match': '"3"' }, payload: '{"title":' });
  t.equal(malformed.statusCode, 400);
  t.equal((await ctx.json(lead, 'PATCH', `${CASES}/not-a-uuid`, { title: 'x' }, { 'if-match': '"3"' })).status, 400, 'invalid uuid');
  t.equal((await ctx.json(lead, 'GET', `${CASES}/not-a-uuid`)).status, 400);
  t.equal((await ctx.json(lead, 'GET', `${CASES}/not-a-uuid/revisions`)).status, 400);
  t.same(await counts(), before, 'nothing written');
  t.equal((await ctx.db.case.findUniqueOrThrow({ where: { id: c.id } })).version, 3);
});

t.test('concurrent edits with the same If-Match: exactly one wins', async (t) => {
  const c = await ctx.createCase();
  const results = await Promise.all(
    ['A', 'B', 'C'].map((title) => ctx.json(c.users.lead, 'PATCH', `${CASES}/${c.id}`, { title }, { 'if-match': '"1"' })),
  );
  t.same(results.map((r) => r.status).sort(), [200, 412, 412]);
  t.equal(await ctx.db.revision.count({ where: { entityId: c.id } }), 1);
});
