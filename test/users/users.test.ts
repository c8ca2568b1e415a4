import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor } from '../helpers/app.ts';

const USERS = '/api/v1/users';

t.test('every users route × every role', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const target = await ctx.createUser();
  let n = 0;
  for (const role of ALL_ROLE_NAMES) {
    const caller = userFor(testCase, role);
    const allowed = role === 'admin';
    const denied = caller ? 403 : 401;
    const create = await ctx.json(caller, 'POST', USERS, { email: `new-${role}-${++n}@example.org`, displayName: 'New', password: 'long enough password', role: 'member' });
    t.equal(create.status, allowed ? 201 : denied, `${role} POST /users`);
    t.equal((await ctx.json(caller, 'GET', USERS)).status, allowed ? 200 : denied, `${role} GET /users`);
    t.equal((await ctx.json(caller, 'GET', `${USERS}/${target.id}`)).status, allowed ? 200 : denied, `${role} GET /users/{id}`);
    const current = await ctx.db.user.findUniqueOrThrow({ where: { id: target.id } });
    const patch = await ctx.json(caller, 'PATCH', `${USERS}/${target.id}`, { displayName: `Renamed by ${role}` }, { 'if-match': `"${current.version}"` });
    t.equal(patch.status, allowed ? 200 : denied, `${role} PATCH /users/{id}`);
    if (!allowed) t.equal(patch.body.code, caller ? 'forbidden' : 'unauthenticated');
  }
  t.equal(await ctx.db.user.count({ where: { email: { startsWith: 'new-' } } }), 1, 'only the admin created a user');
});

t.test('create, read, list, update', async (t) => {
  const ctx = await createTestContext(t);
  const admin = await ctx.createUser({ role: 'admin' });
  const password = 'a new user password';
  ctx.secrets.add(password);
  const created = await ctx.json(admin, 'POST', USERS, { email: 'New.Person@Example.org', displayName: 'New Person', password, role: 'member' });
  t.equal(created.status, 201);
  t.match(created.body, { email: 'new.person@example.org', displayName: 'New Person', role: 'member', disabled: false, totpEnabled: false, version: 1 });
  t.same(Object.keys(created.body).sort(), ['createdAt', 'disabled', 'displayName', 'email', 'id', 'role', 'totpEnabled', 'version']);
  t.equal(created.headers.etag, '"1"');
  const row = await ctx.db.user.findUniqueOrThrow({ where: { id: created.body.id } });
  t.match(row.passwordHash, /^\$argon2id\$/);

  const duplicate = await ctx.json(admin, 'POST', USERS, { email: 'NEW.person@example.org', displayName: 'Again', password, role: 'admin' });
  t.equal(duplicate.status, 409);
  t.equal(duplicate.body.code, 'conflict');

  const login = await ctx.json(null, 'POST', '/api/v1/auth/login', { email: 'new.person@example.org', password });
  t.equal(login.status, 200, 'the new user can sign in');
  const newUser = { id: created.body.id, email: 'new.person@example.org', password, token: login.body.token, role: 'member' as const };
  ctx.secrets.add(login.body.token);

  const read = await ctx.json(admin, 'GET', `${USERS}/${created.body.id}`);
  t.same(read.body, created.body);
  t.equal(read.headers.etag, '"1"');
  t.equal((await ctx.json(admin, 'GET', `${USERS}/00000000-0000-4000-8000-000000000000`)).status, 404);

  // Pagination: newest first, stable, complete.
  for (let i = 0; i < 4; i++) await ctx.createUser({ email: `page-${i}@example.org` });
  const all = await ctx.db.user.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await ctx.json(
      admin,
      'GET',
      `${USERS}?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    );
    t.equal(page.status, 200);
    t.ok(page.body.items.length <= 2);
    seen.push(...page.body.items.map((u) => u.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  t.same(seen, all.map((u) => u.id), 'every user once, newest first');
  t.equal((await ctx.json(admin, 'GET', `${USERS}?cursor=bogus`)).status, 400);
  t.equal((await ctx.json(admin, 'GET', `${USERS}?cursor=${Buffer.from('["x; drop table users","y"]').toString('base64url')}`)).status, 400);
  t.equal((await ctx.json(admin, 'GET', `${USERS}?limit=500`)).status, 400);
  t.equal((await ctx.json(admin, 'GET', `${USERS}?other=1`)).status, 400);

  // PATCH with If-Match.
  const url = `${USERS}/${created.body.id}`;
  t.equal((await ctx.json(admin, 'PATCH', url, { displayName: 'X' })).status, 428);
  t.equal((await ctx.json(admin, 'PATCH', url, { displayName: 'X' }, { 'if-match': '"7"' })).status, 412);
  const renamed = await ctx.json(admin, 'PATCH', url, { displayName: 'Renamed', role: 'admin' }, { 'if-match': '"1"' });
  t.equal(renamed.status, 200);
  t.match(renamed.body, { displayName: 'Renamed', role: 'admin', version: 2 });
  t.equal(renamed.headers.etag, '"2"');
  t.equal((await ctx.json(admin, 'PATCH', url, { displayName: 'Stale' }, { 'if-match': '"1"' })).status, 412, 'stale version');

  // Disabling revokes every token of the user.
  t.equal((await ctx.json(newUser, 'GET', '/api/v1/me')).status, 200);
  const disabled = await ctx.json(admin, 'PATCH', url, { disabled: true }, { 'if-match': '"2"' });
  t.equal(disabled.status, 200);
  t.equal(disabled.body.disabled, true);
  t.equal((await ctx.json(newUser, 'GET', '/api/v1/me')).status, 401, 'token dead');
  t.equal(await ctx.db.session.count({ where: { userId: created.body.id, revokedAt: null } }), 0, 'sessions revoked');
  t.equal((await ctx.json(null, 'POST', '/api/v1/auth/login', { email: newUser.email, password })).status, 401, 'cannot sign in');
  const enabled = await ctx.json(admin, 'PATCH', url, { disabled: false }, { 'if-match': '"3"' });
  t.equal(enabled.body.disabled, false);

  // An admin cannot disable or demote themselves.
  const self = `${USERS}/${admin.id}`;
  t.equal((await ctx.json(admin, 'PATCH', self, { disabled: true }, { 'if-match': '"1"' })).status, 409);
  t.equal((await ctx.json(admin, 'PATCH', self, { role: 'member' }, { 'if-match': '"1"' })).status, 409);
  t.equal((await ctx.json(admin, 'PATCH', self, { displayName: 'Me' }, { 'if-match': '"1"' })).status, 200, 'but may rename themselves');

  const revisions = await ctx.db.revision.findMany({ where: { entityType: 'user', entityId: created.body.id }, orderBy: { version: 'asc' } });
  t.same(revisions.map((r) => r.version), [1, 2, 3, 4]);
  t.same(revisions[1]!.changes, [
    { field: 'displayName', from: 'New Person', to: 'Renamed' },
    { field: 'role', from: 'member', to: 'admin' },
  ]);
  t.equal(revisions[0]!.actorId, admin.id);
  const snapshots = JSON.stringify(revisions.map((r) => r.snapshot));
  t.notOk(snapshots.includes('argon2') || snapshots.includes('passwordHash'), 'no password hash in revisions');
  const audits = await ctx.db.auditEntry.findMany({ where: { action: { startsWith: 'user.' } }, orderBy: { id: 'asc' } });
  t.same(audits.map((a) => a.action), ['user.create', 'user.update', 'user.update', 'user.update', 'user.update']);
  t.same(audits[2]!.details, { fields: ['disabled'], revokedSessions: 1 });
  const auditText = JSON.stringify(audits, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  t.notOk(auditText.includes(password), 'no password in the audit trail');
});

t.test('users: bad input is a 4xx problem and nothing is written', async (t) => {
  const ctx = await createTestContext(t);
  const admin = await ctx.createUser({ role: 'admin' });
  const good = { email: 'valid@example.org', displayName: 'Valid', password: 'long enough password', role: 'member' };
  const usersBefore = await ctx.db.user.count();
  const bodies: [string, unknown][] = [
    ['unknown property', { ...good, admin: true }],
    ['missing field', { email: good.email, displayName: 'x', role: 'member' }],
    ['wrong type', { ...good, role: 7 }],
    ['unknown role', { ...good, role: 'root' }],
    ['weak password', { ...good, password: 'short' }],
    ['huge display name', { ...good, displayName: 'x'.repeat(10_000) }],
    ['huge email', { ...good, email: `${'x'.repeat(10_000)}@example.org` }],
    ['not an email', { ...good, email: 'not an email' }],
    ['blank display name', { ...good, displayName: '   ' }],
    ['huge password', { ...good, password: 'x'.repeat(2000) }],
  ];
  for (const [name, body] of bodies) {
    const response = await ctx.json(admin, 'POST', USERS, body);
    t.equal(response.status, 400, name);
    t.equal(response.body.code, 'validation_failed', name);
  }
  const weak = await ctx.json(admin, 'POST', USERS, { ...good, password: 'short' });
  t.same(weak.body.errors, [{ path: 'body.password', message: 'must be at least 12 characters' }]);
  const malformed = await ctx.inject(admin, { method: 'POST', url: USERS, payload: '{"email":', headers: { 'content-type': 'application/json' } });
  t.equal(malformed.statusCode, 400);
  const url = `${USERS}/${admin.id}`;
  const patches: [string, unknown][] = [
    ['empty', {}],
    ['unknown property', { email: 'other@example.org' }],
    ['wrong type', { disabled: 'yes' }],
    ['huge', { displayName: 'x'.repeat(10_000) }],
  ];
  for (const [name, body] of patches) t.equal((await ctx.json(admin, 'PATCH', url, body, { 'if-match': '"1"' })).status, 400, `PATCH ${name}`);
  t.equal((await ctx.json(admin, 'GET', `${USERS}/not-a-uuid`)).status, 400, 'invalid UUID');
  t.equal((await ctx.json(admin, 'PATCH', `${USERS}/not-a-uuid`, { displayName: 'x' }, { 'if-match': '"1"' })).status, 400, 'invalid UUID');
  t.equal(await ctx.db.user.count(), usersBefore);
  t.equal(await ctx.db.revision.count(), 0);
  t.equal(await ctx.db.auditEntry.count(), 0);
  t.equal((await ctx.db.user.findUniqueOrThrow({ where: { id: admin.id } })).version, 1);
});
