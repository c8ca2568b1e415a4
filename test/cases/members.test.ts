import t, { type Test } from 'tap';
import { ALL_ROLE_NAMES, type RoleName, createTestContext, userFor } from '../helpers/app.ts';

const CASES = '/api/v1/cases';
// One app and database for the whole file (a context is slow to build); each test makes its own cases.
const ctx = await createTestContext(t);

async function counts() {
  return { memberships: await ctx.db.caseMembership.count(), audit: await ctx.db.auditEntry.count() };
}

function liveLeads(caseId: string) {
  return ctx.db.caseMembership.findMany({
    where: { caseId, role: 'lead', OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
    select: { userId: true },
  });
}

function isConflict(t: Test, response: { status: number; body: any }) {
  t.equal(response.status, 409);
  t.equal(response.body.code, 'conflict');
}

t.test('role matrix for the member routes', async (t) => {
  const c = await ctx.createCase();
  const manage: Record<RoleName, number> = { anonymous: 401, admin: 200, lead: 200, investigator: 403, reviewer: 403, counsel: 403, observer: 403, outsider: 404 };
  const read: Record<RoleName, number> = { anonymous: 401, admin: 200, lead: 200, investigator: 404, reviewer: 404, counsel: 404, observer: 404, outsider: 404 };

  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(c, role);
    const target = await ctx.createUser({ displayName: `Target of ${role}` });

    const put = await ctx.json(user, 'PUT', `${CASES}/${c.id}/members/${target.id}`, { role: 'observer' });
    t.equal(put.status, manage[role], `PUT member as ${role}`);
    if (put.status === 200) {
      t.same(put.body, {
        caseId: c.id,
        userId: target.id,
        role: 'observer',
        expiresAt: null,
        user: { id: target.id, email: target.email, displayName: `Target of ${role}` },
      });
    } else {
      t.equal(await ctx.db.caseMembership.count({ where: { caseId: c.id, userId: target.id } }), 0, 'nothing written');
    }

    await ctx.addMember(c.id, target.id, 'observer');
    const removed = await ctx.inject(user, { method: 'DELETE', url: `${CASES}/${c.id}/members/${target.id}` });
    t.equal(removed.statusCode, manage[role] === 200 ? 204 : manage[role], `DELETE member as ${role}`);
    if (removed.statusCode === 204) t.equal(removed.body, '', 'no body');
    t.equal(await ctx.db.caseMembership.count({ where: { caseId: c.id, userId: target.id } }), removed.statusCode === 204 ? 0 : 1);
    await ctx.db.caseMembership.deleteMany({ where: { caseId: c.id, userId: target.id } });

    const list = await ctx.json(user, 'GET', `${CASES}/${c.id}/members`);
    t.equal(list.status, read[role], `GET members as ${role}`);
    if (role === 'outsider' || role === 'investigator') t.equal(list.body.code, 'not_found');
  }

  const members = await ctx.json(c.users.lead, 'GET', `${CASES}/${c.id}/members`);
  const roles = Object.fromEntries(members.body.items.map((m: { userId: string; role: string }) => [m.userId, m.role]));
  t.same(roles, {
    [c.users.lead.id]: 'lead',
    [c.users.investigator.id]: 'investigator',
    [c.users.reviewer.id]: 'reviewer',
    [c.users.counsel.id]: 'counsel',
    [c.users.observer.id]: 'observer',
  });
  t.notOk(JSON.stringify(members.body).includes('passwordHash'));
  t.notOk(JSON.stringify(members.body).includes('argon2'));
  const firstPage = await ctx.json(c.users.lead, 'GET', `${CASES}/${c.id}/members?limit=2`);
  const seen = firstPage.body.items.map((m: { userId: string }) => m.userId);
  let cursor = firstPage.body.nextCursor;
  while (cursor) {
    const next = await ctx.json(c.users.lead, 'GET', `${CASES}/${c.id}/members?limit=2&cursor=${cursor}`);
    seen.push(...next.body.items.map((m: { userId: string }) => m.userId));
    cursor = next.body.nextCursor;
  }
  t.same(seen, members.body.items.map((m: { userId: string }) => m.userId), 'pages join up without duplicates');
  t.equal((await ctx.json(c.users.lead, 'GET', `${CASES}/${c.id}/members?cursor=${Buffer.from('["x"]').toString('base64url')}`)).status, 400);

  // Members of another case: 404 (the outsider leads it); a missing case: 404.
  t.equal((await ctx.json(c.users.lead, 'GET', `${CASES}/${c.otherCaseId}/members`)).status, 404);
  t.equal((await ctx.json(c.users.lead, 'PUT', `${CASES}/${c.otherCaseId}/members/${c.users.lead.id}`, { role: 'lead' })).status, 404);
  t.equal((await ctx.json(c.users.admin, 'GET', `${CASES}/00000000-0000-4000-8000-000000000000/members`)).status, 404);
});

t.test('PUT changes roles and time-boxes; changes are audited with before and after', async (t) => {
  const c = await ctx.createCase();
  const url = `${CASES}/${c.id}/members/${c.users.observer.id}`;
  const promoted = await ctx.json(c.users.lead, 'PUT', url, { role: 'reviewer' });
  t.match(promoted.body, { role: 'reviewer', expiresAt: null });
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  const boxed = await ctx.json(c.users.admin, 'PUT', url, { role: 'reviewer', expiresAt });
  t.equal(boxed.body.expiresAt, expiresAt);
  t.equal((await ctx.json(c.users.observer, 'GET', `${CASES}/${c.id}/revisions`)).status, 200, 'the new role applies');

  const entries = await ctx.db.auditEntry.findMany({ where: { caseId: c.id, action: 'member.put' }, orderBy: { id: 'asc' } });
  t.match(entries, [
    { actorId: c.users.lead.id, targetType: 'user', targetId: c.users.observer.id, outcome: 'success', details: { roleBefore: 'observer', roleAfter: 'reviewer', expiresAtAfter: null } },
    { actorId: c.users.admin.id, details: { roleBefore: 'reviewer', roleAfter: 'reviewer', expiresAtBefore: null, expiresAtAfter: expiresAt } },
  ]);

  const removed = await ctx.json(c.users.lead, 'DELETE', url);
  t.equal(removed.status, 204);
  t.match(await ctx.db.auditEntry.findFirst({ where: { caseId: c.id, action: 'member.remove' } }), {
    actorId: c.users.lead.id,
    targetId: c.users.observer.id,
    details: { roleBefore: 'reviewer', roleAfter: null },
  });
  t.equal((await ctx.json(c.users.observer, 'GET', `${CASES}/${c.id}`)).status, 404, 'a removed member sees nothing');
  t.equal((await ctx.json(c.users.lead, 'DELETE', url)).status, 404, 'removing a non-member: 404');

  // An expired membership can be renewed by the lead, and grants again.
  await ctx.addMember(c.id, c.users.counsel.id, 'counsel', new Date(Date.now() - 1000));
  t.equal((await ctx.json(c.users.counsel, 'GET', `${CASES}/${c.id}`)).status, 404);
  t.equal((await ctx.json(c.users.lead, 'PUT', `${CASES}/${c.id}/members/${c.users.counsel.id}`, { role: 'counsel', expiresAt: null })).status, 200);
  t.equal((await ctx.json(c.users.counsel, 'GET', `${CASES}/${c.id}`)).status, 200);
});

t.test('the last live lead cannot be removed or demoted', async (t) => {
  const c = await ctx.createCase();
  const lead = c.users.lead;
  const url = `${CASES}/${c.id}/members/${lead.id}`;
  const before = await counts();
  isConflict(t, await ctx.json(lead, 'DELETE', url));
  isConflict(t, await ctx.json(c.users.admin, 'DELETE', url));
  isConflict(t, await ctx.json(lead, 'PUT', url, { role: 'investigator' }));
  isConflict(t, await ctx.json(c.users.admin, 'PUT', url, { role: 'observer' }));
  t.same(await counts(), before, 'nothing written');
  // Re-stating the lead's role is fine.
  t.equal((await ctx.json(lead, 'PUT', url, { role: 'lead' })).status, 200);

  // A second lead whose membership has expired does not count.
  await ctx.addMember(c.id, c.users.investigator.id, 'lead', new Date(Date.now() - 1000));
  isConflict(t, await ctx.json(lead, 'DELETE', url));
  // A live second lead does: then the first may step down.
  t.equal((await ctx.json(lead, 'PUT', `${CASES}/${c.id}/members/${c.users.reviewer.id}`, { role: 'lead' })).status, 200);
  const down = await ctx.json(lead, 'PUT', url, { role: 'investigator' });
  t.equal(down.status, 200);
  t.equal((await ctx.json(lead, 'GET', `${CASES}/${c.id}/members`)).status, 404, 'no longer a lead');
  t.same(await liveLeads(c.id), [{ userId: c.users.reviewer.id }]);
  isConflict(t, await ctx.json(c.users.reviewer, 'DELETE', `${CASES}/${c.id}/members/${c.users.reviewer.id}`));

  // An admin can repair a case whose every lead has expired.
  await ctx.addMember(c.id, c.users.reviewer.id, 'lead', new Date(Date.now() - 1000));
  t.equal((await ctx.json(c.users.admin, 'PUT', `${CASES}/${c.id}/members/${c.users.observer.id}`, { role: 'lead' })).status, 200);
});

t.test('two leads demoting or removing each other at once: exactly one succeeds', async (t) => {
  for (let round = 0; round < 4; round++) {
    const c = await ctx.createCase();
    const [a, b] = [c.users.lead, c.users.investigator];
    await ctx.addMember(c.id, b.id, 'lead');
    const demote = round % 2 === 0;
    const act = (actor: typeof a, target: typeof b) =>
      demote
        ? ctx.json(actor, 'PUT', `${CASES}/${c.id}/members/${target.id}`, { role: 'observer' })
        : ctx.json(actor, 'DELETE', `${CASES}/${c.id}/members/${target.id}`);
    const results = await Promise.all([act(a, b), act(b, a)]);
    const statuses = results.map((r) => r.status);
    t.equal(statuses.filter((s) => s === 200 || s === 204).length, 1, `round ${round} (${demote ? 'demote' : 'remove'}): one succeeds (${statuses})`);
    t.ok(statuses.every((s) => [200, 204, 403, 404, 409].includes(s)), 'the other is refused');
    t.equal((await liveLeads(c.id)).length, 1, 'one live lead remains');
    t.equal(await ctx.db.auditEntry.count({ where: { caseId: c.id, action: { in: ['member.put', 'member.remove'] } } }), 1, 'one change audited');
  }
});

t.test('bad input on the member routes: 4xx problems, nothing written', async (t) => {
  const c = await ctx.createCase();
  const target = await ctx.createUser();
  const url = `${CASES}/${c.id}/members/${target.id}`;
  const before = await counts();
  const bad: [string, unknown, string][] = [
    ['missing role', {}, 'body.role'],
    ['unknown role', { role: 'admin' }, 'body.role'],
    ['unknown property', { role: 'observer', userId: target.id }, 'body.userId'],
    ['object role', { role: { lead: true } }, 'body.role'],
    ['huge role', { role: 'x'.repeat(100_000) }, 'body.role'],
    ['bad date', { role: 'observer', expiresAt: 'tomorrow' }, 'body.expiresAt'],
    ['number date', { role: 'observer', expiresAt: 12 }, 'body.expiresAt'],
    ['past date', { role: 'observer', expiresAt: '2001-01-01T00:00:00Z' }, 'body.expiresAt'],
  ];
  for (const [name, body, path] of bad) {
    const response = await ctx.json(c.users.lead, 'PUT', url, body);
    t.equal(response.status, 400, name);
    t.equal(response.body.code, 'validation_failed', name);
    t.ok(response.body.errors?.some((e: { path: string }) => e.path.startsWith(path)), `${name} names ${path}: ${JSON.stringify(response.body.errors)}`);
  }
  const malformed = await ctx.inject(c.users.lead, { method: 'PUT', url, headers: { 'content-type': 'application/json' }, payload: '{"role":' });
  t.equal(malformed.statusCode, 400, 'malformed JSON');
  t.equal((await ctx.json(c.users.lead, 'PUT', `${CASES}/${c.id}/members/not-a-uuid`, { role: 'observer' })).status, 400, 'invalid user uuid');
  t.equal((await ctx.json(c.users.lead, 'PUT', `${CASES}/nope/members/${target.id}`, { role: 'observer' })).status, 400, 'invalid case uuid');
  t.equal((await ctx.json(c.users.lead, 'DELETE', `${CASES}/${c.id}/members/not-a-uuid`)).status, 400);
  t.equal((await ctx.json(c.users.lead, 'GET', `${CASES}/nope/members`)).status, 400);
  const unknown = await ctx.json(c.users.lead, 'PUT', `${CASES}/${c.id}/members/00000000-0000-4000-8000-000000000000`, { role: 'observer' });
  t.equal(unknown.status, 404, 'an unknown user is 404');
  t.equal(unknown.body.detail, 'No such user.');
  // An investigator may not even probe users: 403 before the user lookup.
  t.equal((await ctx.json(c.users.investigator, 'PUT', `${CASES}/${c.id}/members/00000000-0000-4000-8000-000000000000`, { role: 'observer' })).status, 403);
  t.same(await counts(), before, 'nothing written');
  t.notOk(ctx.logs.some((line) => line.includes('"level":50')), 'no unexpected error logged');
});
