import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor, type RoleName } from '../helpers/app.ts';

const base = {
  title: 'Attack on the Kalehe market',
  summary: 'Armed men opened fire on the market.',
  occurredFrom: '2024-03-14',
  location: { name: 'Kalehe', adminArea: 'Sud-Kivu', country: 'CD', lat: -2.1, lon: 28.9, precisionMeters: 500 },
  categories: ['killing', 'attack_on_civilians'],
  casualties: { killed: 12, injured: null },
  allegedPerpetrators: ['Unidentified armed group'],
};

const READERS: RoleName[] = ['lead', 'investigator', 'reviewer', 'counsel', 'observer'];
const WRITERS: RoleName[] = ['lead', 'investigator'];
const REVISION_READERS: RoleName[] = ['lead', 'investigator', 'reviewer', 'counsel'];

/** 401 anonymous, 404 outside the case, 403 for members who see but may not act. */
function expected(role: RoleName, allowed: RoleName[], okStatus: number, visible: RoleName[] = []): number {
  if (role === 'anonymous') return 401;
  if (allowed.includes(role)) return okStatus;
  return visible.includes(role) ? 403 : 404;
}

t.test('incidents: the role matrix of every route', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const lead = c.users.lead;
  const other = await ctx.json(c.users.outsider, 'POST', `/api/v1/cases/${c.otherCaseId}/incidents`, base);
  t.equal(other.status, 201, 'the outsider leads another case');

  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(c, role);
    const created = await ctx.json(user, 'POST', `/api/v1/cases/${c.id}/incidents`, { ...base, title: `By ${role}` });
    t.equal(created.status, expected(role, WRITERS, 201, READERS), `${role} creates`);
    const { body: incident } = await ctx.json(lead, 'POST', `/api/v1/cases/${c.id}/incidents`, base);

    t.equal((await ctx.json(user, 'GET', `/api/v1/cases/${c.id}/incidents`)).status, expected(role, READERS, 200), `${role} lists`);
    const got = await ctx.json(user, 'GET', `/api/v1/incidents/${incident.id}`);
    t.equal(got.status, expected(role, READERS, 200), `${role} reads`);
    if (got.status === 200) t.equal(got.headers.etag, '"1"');
    const patched = await ctx.json(user, 'PATCH', `/api/v1/incidents/${incident.id}`, { status: 'under_review' }, { 'if-match': '"1"' });
    t.equal(patched.status, expected(role, WRITERS, 200, READERS), `${role} edits`);
    const version = patched.status === 200 ? 2 : 1;
    const retracted = await ctx.json(user, 'POST', `/api/v1/incidents/${incident.id}/retract`, { reason: 'duplicate' }, { 'if-match': `"${version}"` });
    t.equal(retracted.status, expected(role, WRITERS, 200, READERS), `${role} retracts`);
    t.equal((await ctx.json(user, 'GET', `/api/v1/incidents/${incident.id}/revisions`)).status, expected(role, REVISION_READERS, 200), `${role} reads revisions`);

    // Another case's records are invisible, whatever the role here.
    if (role !== 'outsider' && role !== 'anonymous') {
      t.equal((await ctx.json(user, 'GET', `/api/v1/incidents/${other.body.id}`)).status, 404, `${role} cannot see another case's incident`);
      t.equal((await ctx.json(user, 'PATCH', `/api/v1/incidents/${other.body.id}`, { title: 'x' }, { 'if-match': '"1"' })).status, 404);
      t.equal((await ctx.json(user, 'GET', `/api/v1/cases/${c.otherCaseId}/incidents`)).status, 404);
    }
  }
  const missing = await ctx.json(lead, 'GET', '/api/v1/incidents/00000000-0000-4000-8000-000000000000');
  t.equal(missing.status, 404);
  t.equal(missing.body.code, 'not_found');
});

t.test('incidents: the record, validation and versions', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const lead = c.users.lead;
  const url = `/api/v1/cases/${c.id}/incidents`;

  const created = await ctx.json(lead, 'POST', url, base);
  t.equal(created.status, 201);
  t.match(created.body, {
    title: base.title,
    occurredFrom: '2024-03-14',
    occurredTo: null,
    datePrecision: 'day',
    location: { name: 'Kalehe', country: 'CD', lat: -2.1, lon: 28.9 },
    casualties: { killed: 12, injured: null, missing: null, detained: null },
    status: 'draft',
    retraction: null,
    createdBy: lead.id,
    version: 1,
  });

  const bad: [string, unknown, string][] = [
    ['unknown property', { ...base, colour: 'red' }, 'body.colour'],
    ['missing title', { ...base, title: undefined }, 'body.title'],
    ['blank title', { ...base, title: '   ' }, 'body.title'],
    ['huge title', { ...base, title: 'x'.repeat(301) }, 'body.title'],
    ['huge summary', { ...base, summary: 'x'.repeat(20_001) }, 'body.summary'],
    ['unknown country', { ...base, location: { ...base.location, country: 'XX' } }, 'body.location.country'],
    ['lat without lon', { ...base, location: { name: 'x', lat: 1 } }, 'body.location.lon'],
    ['lat out of range', { ...base, location: { lat: 91, lon: 0 } }, 'body.location.lat'],
    ['lon out of range', { ...base, location: { lat: 0, lon: -181 } }, 'body.location.lon'],
    ['impossible date', { ...base, occurredFrom: '2024-02-30' }, 'body.occurredFrom'],
    ['to before from', { ...base, occurredTo: '2024-03-01' }, 'body.occurredTo'],
    ['month precision mid-month', { ...base, datePrecision: 'month' }, 'body.occurredFrom'],
    ['year precision', { ...base, occurredFrom: '2024-03-01', datePrecision: 'year' }, 'body.occurredFrom'],
    ['unknown category', { ...base, categories: ['killing', 'jaywalking'] }, 'body.categories.1'],
    ['negative count', { ...base, casualties: { killed: -1 } }, 'body.casualties.killed'],
    ['fractional count', { ...base, casualties: { killed: 1.5 } }, 'body.casualties.killed'],
    ['bad status', { ...base, status: 'done' }, 'body.status'],
    ['wrong type', { ...base, categories: 'killing' }, 'body.categories'],
  ];
  for (const [what, body, path] of bad) {
    const res = await ctx.json(lead, 'POST', url, body);
    t.equal(res.status, 400, what);
    t.equal(res.body.code, 'validation_failed', what);
    t.ok(res.body.errors?.some((e: { path: string }) => e.path === path), `${what} names ${path}: ${JSON.stringify(res.body.errors)}`);
  }
  t.equal((await ctx.json(lead, 'POST', '/api/v1/cases/not-a-uuid/incidents', base)).status, 400);
  t.equal((await ctx.json(lead, 'GET', '/api/v1/incidents/not-a-uuid')).status, 400);
  t.equal(await ctx.db.incident.count(), 1, 'nothing written by refused requests');

  const month = await ctx.json(lead, 'POST', url, { ...base, occurredFrom: '2024-03-01', occurredTo: '2024-05-01', datePrecision: 'month', location: null, casualties: { killed: 0 } });
  t.equal(month.status, 201);
  t.equal(month.body.location, null);
  t.equal(month.body.casualties.killed, 0, 'zero is a count, not unknown');
  t.equal(month.body.casualties.injured, null);

  // Concurrency: If-Match.
  const id = created.body.id;
  t.equal((await ctx.json(lead, 'PATCH', `/api/v1/incidents/${id}`, { title: 'New' })).status, 428);
  const first = await ctx.json(lead, 'PATCH', `/api/v1/incidents/${id}`, { title: 'Attack on Kalehe market', casualties: { injured: 30 } }, { 'if-match': '"1"' });
  t.equal(first.status, 200);
  t.equal(first.headers.etag, '"2"');
  t.same(first.body.casualties, { killed: 12, injured: 30, missing: null, detained: null }, 'casualties merge');
  const stale = await ctx.json(c.users.investigator, 'PATCH', `/api/v1/incidents/${id}`, { title: 'Stale' }, { 'if-match': '"1"' });
  t.equal(stale.status, 412);
  t.equal(stale.body.code, 'precondition_failed');
  t.equal((await ctx.json(lead, 'GET', `/api/v1/incidents/${id}`)).body.title, 'Attack on Kalehe market', 'nothing changed');
  const badPatch = await ctx.json(lead, 'PATCH', `/api/v1/incidents/${id}`, { occurredTo: '2020-01-01' }, { 'if-match': '"2"' });
  t.equal(badPatch.status, 400);
  t.equal(badPatch.body.errors[0].path, 'body.occurredTo');
  t.equal((await ctx.json(lead, 'PATCH', `/api/v1/incidents/${id}`, {}, { 'if-match': '"2"' })).status, 400, 'an empty patch');

  const retracted = await ctx.json(lead, 'POST', `/api/v1/incidents/${id}/retract`, { reason: 'Duplicate of another record' }, { 'if-match': '"2"' });
  t.equal(retracted.status, 200);
  t.match(retracted.body.retraction, { reason: 'Duplicate of another record', by: lead.id });
  t.equal((await ctx.json(lead, 'POST', `/api/v1/incidents/${id}/retract`, { reason: 'again' }, { 'if-match': '"3"' })).status, 400);
  const stillReadable = await ctx.json(c.users.observer, 'GET', `/api/v1/incidents/${id}`);
  t.equal(stillReadable.status, 200);
  t.equal(stillReadable.body.retraction.reason, 'Duplicate of another record');

  const revisions = await ctx.json(c.users.reviewer, 'GET', `/api/v1/incidents/${id}/revisions`);
  t.equal(revisions.status, 200);
  t.same(revisions.body.items.map((r: { version: number }) => r.version), [1, 2, 3]);
  t.equal(revisions.body.items[0].snapshot.title, base.title);
  t.same(revisions.body.items[1].changes.map((c: { field: string }) => c.field).sort(), ['casualties', 'title']);
  t.equal(revisions.body.items[2].by, lead.id);
  const paged = await ctx.json(lead, 'GET', `/api/v1/incidents/${id}/revisions?limit=2`);
  const rest = await ctx.json(lead, 'GET', `/api/v1/incidents/${id}/revisions?limit=2&cursor=${paged.body.nextCursor}`);
  t.same([...paged.body.items, ...rest.body.items].map((r: { version: number }) => r.version), [1, 2, 3]);
});
