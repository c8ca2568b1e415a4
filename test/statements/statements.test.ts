import t, { type Test } from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor, type RoleName } from '../helpers/app.ts';

const READERS: RoleName[] = ['lead', 'investigator', 'reviewer', 'counsel'];
const WRITERS: RoleName[] = ['lead', 'investigator'];

function expected(role: RoleName, allowed: RoleName[], okStatus: number, visible: RoleName[] = []): number {
  if (role === 'anonymous') return 401;
  if (allowed.includes(role)) return okStatus;
  return visible.includes(role) ? 403 : 404;
}

async function setup(t: Test) {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const lead = c.users.lead;
  const witness = (await ctx.json(lead, 'POST', `/api/v1/cases/${c.id}/witnesses`, {})).body;
  const incident = (await ctx.json(lead, 'POST', `/api/v1/cases/${c.id}/incidents`, { title: 'Shelling of Kharkiv', occurredFrom: '2022-03-01' })).body;
  const otherWitness = (await ctx.json(c.users.outsider, 'POST', `/api/v1/cases/${c.otherCaseId}/witnesses`, {})).body;
  const otherIncident = (await ctx.json(c.users.outsider, 'POST', `/api/v1/cases/${c.otherCaseId}/incidents`, { title: 'Elsewhere', occurredFrom: '2022-03-01' })).body;
  const body = {
    witnessId: witness.id,
    incidentIds: [incident.id],
    takenAt: '2024-04-02T09:30:00Z',
    place: 'Safe house, Lviv',
    language: 'uk-UA',
    interpreter: null,
    narrative: 'I saw the shelling from my window.',
    consent: { useInProceedings: true },
  };
  return { ctx, c, witness, incident, otherWitness, otherIncident, body };
}

t.test('statements: the role matrix; observers never see them', async (t) => {
  const { ctx, c, body, otherWitness } = await setup(t);
  const other = await ctx.json(c.users.outsider, 'POST', `/api/v1/cases/${c.otherCaseId}/statements`, { ...body, witnessId: otherWitness.id, incidentIds: [] });
  t.equal(other.status, 201);
  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(c, role);
    t.equal((await ctx.json(user, 'POST', `/api/v1/cases/${c.id}/statements`, body)).status, expected(role, WRITERS, 201, READERS), `${role} records`);
    const { body: statement } = await ctx.json(c.users.lead, 'POST', `/api/v1/cases/${c.id}/statements`, body);
    t.equal((await ctx.json(user, 'GET', `/api/v1/cases/${c.id}/statements`)).status, expected(role, READERS, 200), `${role} lists`);
    t.equal((await ctx.json(user, 'GET', `/api/v1/statements/${statement.id}`)).status, expected(role, READERS, 200), `${role} reads`);
    const patched = await ctx.json(user, 'PATCH', `/api/v1/statements/${statement.id}`, { place: 'Lviv' }, { 'if-match': '"1"' });
    t.equal(patched.status, expected(role, WRITERS, 200, READERS), `${role} edits`);
    const retracted = await ctx.json(user, 'POST', `/api/v1/statements/${statement.id}/retract`, { reason: 'withdrawn' }, { 'if-match': patched.status === 200 ? '"2"' : '"1"' });
    t.equal(retracted.status, expected(role, WRITERS, 200, READERS), `${role} retracts`);
    t.equal((await ctx.json(user, 'GET', `/api/v1/statements/${statement.id}/revisions`)).status, expected(role, READERS, 200), `${role} reads revisions`);
    if (role !== 'outsider' && role !== 'anonymous') {
      t.equal((await ctx.json(user, 'GET', `/api/v1/statements/${other.body.id}`)).status, 404, `${role}: another case's statement`);
    }
  }
});

t.test('statements: references stay in the case; validation; versions', async (t) => {
  const { ctx, c, body, otherWitness, otherIncident, incident } = await setup(t);
  const lead = c.users.lead;
  const url = `/api/v1/cases/${c.id}/statements`;
  const created = await ctx.json(c.users.investigator, 'POST', url, body);
  t.equal(created.status, 201);
  t.match(created.body, {
    witnessId: body.witnessId,
    incidentIds: [incident.id],
    takenAt: '2024-04-02T09:30:00.000Z',
    language: 'uk-UA',
    interviewerId: c.users.investigator.id,
    consent: { useInProceedings: true, shareWithAccountabilityBodies: false, restrictions: null },
    version: 1,
  });
  const bad: [string, unknown, string][] = [
    ['witness of another case', { ...body, witnessId: otherWitness.id }, 'body.witnessId'],
    ['unknown witness', { ...body, witnessId: '00000000-0000-4000-8000-000000000000' }, 'body.witnessId'],
    ['incident of another case', { ...body, incidentIds: [incident.id, otherIncident.id] }, 'body.incidentIds.1'],
    ['interviewer not a member', { ...body, interviewerId: c.users.outsider.id }, 'body.interviewerId'],
    ['not BCP 47', { ...body, language: 'french!' }, 'body.language'],
    ['not BCP 47 either', { ...body, language: 'en-US-x' }, 'body.language'],
    ['bad takenAt', { ...body, takenAt: 'yesterday' }, 'body.takenAt'],
    ['future takenAt', { ...body, takenAt: '2999-01-01T00:00:00Z' }, 'body.takenAt'],
    ['missing narrative', { ...body, narrative: undefined }, 'body.narrative'],
    ['unknown property', { ...body, identity: 'x' }, 'body.identity'],
    ['bad uuid', { ...body, witnessId: 'W-0001' }, 'body.witnessId'],
    ['huge narrative', { ...body, narrative: 'x'.repeat(200_001) }, 'body.narrative'],
    ['repeated incident', { ...body, incidentIds: [incident.id, incident.id] }, 'body.incidentIds'],
  ];
  for (const [what, payload, path] of bad) {
    const res = await ctx.json(lead, 'POST', url, payload);
    t.equal(res.status, 400, what);
    t.ok(res.body.errors?.some((e: { path: string }) => e.path === path), `${what} names ${path}: ${JSON.stringify(res.body.errors)}`);
  }
  t.equal(await ctx.db.statement.count({ where: { caseId: c.id } }), 1, 'nothing written');

  const id = created.body.id;
  const edited = await ctx.json(lead, 'PATCH', `/api/v1/statements/${id}`, { incidentIds: [], language: 'fr', consent: { restrictions: 'not before 2026' } }, { 'if-match': '"1"' });
  t.equal(edited.status, 200);
  t.same(edited.body.incidentIds, []);
  t.same(edited.body.consent, { useInProceedings: true, shareWithAccountabilityBodies: false, restrictions: 'not before 2026' });
  t.equal((await ctx.json(lead, 'PATCH', `/api/v1/statements/${id}`, { narrative: 'changed' }, { 'if-match': '"1"' })).status, 412);
  t.equal((await ctx.json(lead, 'GET', `/api/v1/statements/${id}`)).body.narrative, body.narrative, 'nothing changed');
  t.equal((await ctx.json(lead, 'PATCH', `/api/v1/statements/${id}`, { incidentIds: [otherIncident.id] }, { 'if-match': '"2"' })).status, 400);
  const retracted = await ctx.json(lead, 'POST', `/api/v1/statements/${id}/retract`, { reason: 'consent withdrawn' }, { 'if-match': '"2"' });
  t.equal(retracted.body.retraction.reason, 'consent withdrawn');
  const revisions = await ctx.json(c.users.reviewer, 'GET', `/api/v1/statements/${id}/revisions`);
  t.same(revisions.body.items.map((r: { version: number }) => r.version), [1, 2, 3]);

  for (let i = 0; i < 7; i++) await ctx.json(lead, 'POST', url, { ...body, narrative: `n${i}` });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await ctx.json(lead, 'GET', `${url}?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...page.body.items.map((s) => s.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  t.equal(seen.length, 8);
  t.equal(new Set(seen).size, 8);
  t.equal(seen[7], id, 'newest first');
});
