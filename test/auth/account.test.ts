import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor, type TestContext, type TestUser } from '../helpers/app.ts';
import { totpCode } from '../../src/modules/auth/totp.ts';
import { hashToken as hashOf } from '../../src/modules/auth/tokens.ts';

async function signIn(ctx: TestContext, user: TestUser, password = user.password): Promise<TestUser> {
  const response = await ctx.json(null, 'POST', '/api/v1/auth/login', { email: user.email, password });
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  ctx.secrets.add(response.body.token);
  return { ...user, password, token: response.body.token };
}

t.test('every auth route × every role', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const routes: [string, string, (u: TestUser | null) => unknown, number][] = [
    ['GET', '/api/v1/me', () => undefined, 200],
    ['POST', '/api/v1/me/totp', () => undefined, 200],
    ['POST', '/api/v1/me/totp/confirm', () => ({ code: '000000' }), 400],
    ['DELETE', '/api/v1/me/totp', () => ({ code: '000000' }), 403],
    ['POST', '/api/v1/me/password', () => ({ currentPassword: 'not my password', newPassword: 'a brand new password' }), 403],
    ['POST', '/api/v1/auth/logout', () => undefined, 204],
  ];
  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(testCase, role);
    for (const [method, url, body, status] of routes) {
      const response = await ctx.json(user, method, url, body(user));
      t.equal(response.status, user ? status : 401, `${role} ${method} ${url}`);
      if (!user) t.equal(response.body.code, 'unauthenticated');
    }
    if (user) t.equal((await ctx.json(user, 'GET', '/api/v1/me')).status, 401, `${role}: logged out`);
  }
  // Login is public: anyone may try, and the answer depends only on the credentials.
  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(testCase, role);
    const response = await ctx.json(user, 'POST', '/api/v1/auth/login', { email: 'nobody@example.org', password: 'wrong password' });
    t.equal(response.status, 401, `${role} POST /auth/login with bad credentials`);
  }
  const good = await ctx.json(null, 'POST', '/api/v1/auth/login', { email: testCase.users.lead.email, password: testCase.users.lead.password });
  t.equal(good.status, 200, 'anonymous POST /auth/login with good credentials');
  ctx.secrets.add(good.body.token);
});

t.test('GET /me: the user and only live memberships', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const lead = testCase.users.lead;
  const later = new Date(Date.now() + 86_400_000);
  await ctx.addMember(testCase.otherCaseId, lead.id, 'observer', later);
  const expired = await ctx.db.case.create({ data: { reference: 'EXPIRED-1', title: 'Expired', createdBy: testCase.users.admin.id } });
  await ctx.addMember(expired.id, lead.id, 'investigator', new Date(Date.now() - 1000));
  const me = await ctx.json(lead, 'GET', '/api/v1/me');
  t.equal(me.status, 200);
  t.match(me.body, { id: lead.id, email: lead.email, role: 'member', disabled: false, totpEnabled: false, version: 1 });
  t.notOk('passwordHash' in me.body);
  const memberships = [...me.body.memberships].sort((a: { caseId: string }, b: { caseId: string }) => a.caseId.localeCompare(b.caseId));
  t.same(
    memberships,
    [
      { caseId: testCase.id, caseReference: testCase.reference, role: 'lead', expiresAt: null },
      { caseId: testCase.otherCaseId, caseReference: (await ctx.db.case.findUniqueOrThrow({ where: { id: testCase.otherCaseId } })).reference, role: 'observer', expiresAt: later.toISOString() },
    ].sort((a, b) => a.caseId.localeCompare(b.caseId)),
  );
  const admin = await ctx.json(testCase.users.admin, 'GET', '/api/v1/me');
  t.same(admin.body.memberships, []);
  t.equal(admin.body.role, 'admin');
});

t.test('tokens: idle and absolute expiry, logout, unknown tokens', async (t) => {
  const ctx = await createTestContext(t);
  const base = await ctx.createUser();
  ctx.secrets.add(base.password);
  const idle = await signIn(ctx, base);
  const absolute = await signIn(ctx, base);
  t.equal((await ctx.json(idle, 'GET', '/api/v1/me')).status, 200);

  const [idleRow, absoluteRow] = await Promise.all(
    [idle, absolute].map((u) => ctx.db.session.findFirstOrThrow({ where: { tokenHash: new Uint8Array(hashOf(u.token)) } })),
  );
  await ctx.db.session.update({ where: { id: idleRow!.id }, data: { lastUsedAt: new Date(Date.now() - (ctx.config.tokenIdleSeconds + 1) * 1000) } });
  const idleAnswer = await ctx.json(idle, 'GET', '/api/v1/me');
  t.equal(idleAnswer.status, 401, 'idle token refused');
  t.equal(idleAnswer.body.code, 'unauthenticated');
  // Just under the idle limit is still fine, and using it moves the idle clock.
  await ctx.db.session.update({ where: { id: absoluteRow!.id }, data: { lastUsedAt: new Date(Date.now() - (ctx.config.tokenIdleSeconds - 60) * 1000) } });
  t.equal((await ctx.json(absolute, 'GET', '/api/v1/me')).status, 200, 'not idle yet');
  const touched = await ctx.db.session.findUniqueOrThrow({ where: { id: absoluteRow!.id } });
  t.ok(Date.now() - touched.lastUsedAt.getTime() < 10_000, 'the idle clock was refreshed');
  await ctx.db.session.update({ where: { id: absoluteRow!.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
  t.equal((await ctx.json(absolute, 'GET', '/api/v1/me')).status, 401, 'expired token refused, however recently used');

  const live = await signIn(ctx, base);
  t.equal((await ctx.json(live, 'POST', '/api/v1/auth/logout')).status, 204);
  t.equal((await ctx.json(live, 'GET', '/api/v1/me')).status, 401, 'logged-out token refused');
  t.equal((await ctx.json(live, 'POST', '/api/v1/auth/logout')).status, 401, 'logout twice');
  t.equal((await ctx.json(base, 'GET', '/api/v1/me')).status, 200, 'other tokens unaffected by a logout');
  const logoutAudit = await ctx.db.auditEntry.findFirst({ where: { action: 'auth.logout' } });
  t.match(logoutAudit, { actorId: base.id, outcome: 'success' });

  for (const token of ['cst_' + 'A'.repeat(43), 'garbage', '']) {
    const response = await ctx.inject(null, { method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } });
    t.equal(response.statusCode, 401, `token "${token.slice(0, 8)}"`);
  }
  t.notOk(ctx.logs.join('\n').includes(live.token), 'no token in the logs');
});

t.test('POST /me/password: checks the current one, refuses weak ones, revokes the other tokens', async (t) => {
  const ctx = await createTestContext(t);
  const base = await ctx.createUser();
  const other = await ctx.createUser();
  ctx.secrets.add(base.password);
  const newPassword = 'a much better passphrase';
  ctx.secrets.add(newPassword);
  const second = await signIn(ctx, base);

  const bad: [string, unknown, number][] = [
    ['weak new password', { currentPassword: base.password, newPassword: 'short' }, 400],
    ['unknown property', { currentPassword: base.password, newPassword, extra: 1 }, 400],
    ['missing field', { currentPassword: base.password }, 400],
    ['wrong type', { currentPassword: base.password, newPassword: 12345678901234 }, 400],
    ['huge', { currentPassword: base.password, newPassword: 'x'.repeat(5000) }, 400],
    ['wrong current password', { currentPassword: 'not the password', newPassword }, 403],
  ];
  for (const [name, body, status] of bad) {
    const response = await ctx.json(base, 'POST', '/api/v1/me/password', body);
    t.equal(response.status, status, name);
    t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8', name);
  }
  const wrong = await ctx.json(base, 'POST', '/api/v1/me/password', { currentPassword: 'not the password', newPassword });
  t.equal(wrong.body.code, 'forbidden');
  t.equal(wrong.body.detail, 'The current password is not correct.');
  t.equal((await ctx.json(second, 'GET', '/api/v1/me')).status, 200, 'nothing revoked by refusals');

  const changed = await ctx.json(base, 'POST', '/api/v1/me/password', { currentPassword: base.password, newPassword });
  t.equal(changed.status, 204);
  t.equal((await ctx.json(base, 'GET', '/api/v1/me')).status, 200, 'the caller keeps the token');
  t.equal((await ctx.json(second, 'GET', '/api/v1/me')).status, 401, 'other tokens revoked');
  t.equal((await ctx.json(other, 'GET', '/api/v1/me')).status, 200, 'other users untouched');
  t.equal((await ctx.json(null, 'POST', '/api/v1/auth/login', { email: base.email, password: base.password })).status, 401, 'old password refused');
  await signIn(ctx, base, newPassword);

  const entries = await ctx.db.auditEntry.findMany({ where: { action: 'auth.password_change' }, orderBy: { id: 'asc' } });
  t.same(entries.map((e) => e.outcome), ['failure', 'failure', 'success']);
  t.same(entries[2]!.details, { revokedSessions: 1 });
  const text = JSON.stringify(entries, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) + ctx.logs.join('\n');
  t.notOk(text.includes(newPassword) || text.includes(base.password), 'no password in audit or logs');
});

t.test('TOTP enrolment, confirmation and removal', async (t) => {
  const ctx = await createTestContext(t);
  const user = await ctx.createUser({ email: 'totp.user@example.org' });

  t.equal((await ctx.json(user, 'POST', '/api/v1/me/totp/confirm', { code: '123456' })).status, 409, 'nothing to confirm');
  t.equal((await ctx.json(user, 'DELETE', '/api/v1/me/totp', { code: '123456' })).status, 409, 'nothing to remove');
  const enrol = await ctx.json(user, 'POST', '/api/v1/me/totp');
  t.equal(enrol.status, 200);
  ctx.secrets.add(enrol.body.secret);
  t.match(enrol.body.secret, /^[A-Z2-7]{32}$/);
  const uri = new URL(enrol.body.uri);
  t.equal(uri.protocol, 'otpauth:');
  t.equal(uri.host, 'totp');
  t.equal(decodeURIComponent(uri.pathname), '/Custodia:totp.user@example.org');
  t.equal(uri.searchParams.get('issuer'), 'Custodia');
  t.equal(uri.searchParams.get('secret'), enrol.body.secret);
  t.equal((await ctx.json(user, 'GET', '/api/v1/me')).body.totpEnabled, false, 'not enabled before confirmation');

  for (const [name, body] of [
    ['unknown property', { code: '123456', x: 1 }],
    ['missing', {}],
    ['wrong type', { code: 123456 }],
    ['huge', { code: '1'.repeat(5000) }],
  ] as const) {
    t.equal((await ctx.json(user, 'POST', '/api/v1/me/totp/confirm', body)).status, 400, name);
  }
  const wrong = await ctx.json(user, 'POST', '/api/v1/me/totp/confirm', { code: totpCode(enrol.body.secret, Date.now() + 3600_000) });
  t.equal(wrong.status, 400, 'wrong code');
  const code = totpCode(enrol.body.secret);
  ctx.secrets.add(code);
  const confirmed = await ctx.json(user, 'POST', '/api/v1/me/totp/confirm', { code });
  t.equal(confirmed.status, 200);
  t.match(confirmed.body, { totpEnabled: true, version: 2 });
  t.equal((await ctx.json(user, 'POST', '/api/v1/me/totp/confirm', { code })).status, 409, 'already enabled');
  t.equal((await ctx.json(user, 'POST', '/api/v1/me/totp')).status, 409, 'enrolling again while enabled');
  t.equal((await ctx.json(user, 'DELETE', '/api/v1/me/totp', { code })).status, 403, 'replayed code cannot remove');
  const wrongRemove = await ctx.json(user, 'DELETE', '/api/v1/me/totp', { code: '000000' });
  t.equal(wrongRemove.status, 403);
  const nextCode = totpCode(enrol.body.secret, Date.now() + 30_000);
  ctx.secrets.add(nextCode);
  t.equal((await ctx.json(user, 'DELETE', '/api/v1/me/totp', { code: nextCode })).status, 204);
  const row = await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } });
  t.match(row, { totpEnabled: false, totpSecret: null, totpKey: null, totpKeyId: null, version: 3 });
  const revisions = await ctx.db.revision.findMany({ where: { entityId: user.id }, orderBy: { version: 'asc' } });
  t.same(revisions.map((r) => [r.version, r.changes]), [
    [2, [{ field: 'totpEnabled', from: false, to: true }]],
    [3, [{ field: 'totpEnabled', from: true, to: false }]],
  ]);
  const actions = (await ctx.db.auditEntry.findMany({ orderBy: { id: 'asc' } })).map((e) => `${e.action}:${e.outcome}`);
  t.same(actions, ['auth.totp_enrol:success', 'auth.totp_enable:success', 'auth.totp_disable:failure', 'auth.totp_disable:failure', 'auth.totp_disable:success']);
  const text = ctx.logs.join('\n');
  t.notOk(text.includes(code) || text.includes(enrol.body.secret), 'no code or secret in the logs');
});
