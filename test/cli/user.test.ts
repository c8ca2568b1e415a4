import t from 'tap';
import { createTestContext, type TestContext } from '../helpers/app.ts';
import { runCustodia } from '../helpers/cli.ts';

function custodia(ctx: TestContext, args: string[], stdin: string) {
  return runCustodia(args, { DATABASE_URL: ctx.database.url, CUSTODIA_DATA_DIR: ctx.dataDir, LOG_LEVEL: 'warn' }, stdin);
}

t.test('custodia user create and reset-password', async (t) => {
  const ctx = await createTestContext(t);
  const password = 'first admin passphrase';
  const created = await custodia(ctx, ['user', 'create', '--email', 'Root@Example.org', '--display-name', 'First Admin', '--role', 'admin', '--password-stdin'], `${password}\n`);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /^[0-9a-f-]{36}\n$/, 'prints the id and nothing else');
  t.notOk(created.stdout.includes(password) || created.stderr.includes(password));
  const id = created.stdout.trim();
  const row = await ctx.db.user.findUniqueOrThrow({ where: { id } });
  t.match(row, { email: 'root@example.org', displayName: 'First Admin', role: 'admin' });
  t.match(await ctx.db.auditEntry.findFirst({ where: { action: 'user.create' } }), { actorId: null, targetId: id, details: { role: 'admin', via: 'cli' } });

  const login = await ctx.json(null, 'POST', '/api/v1/auth/login', { email: 'root@example.org', password });
  t.equal(login.status, 200, 'the created admin signs in through the API');
  ctx.secrets.add(login.body.token);
  const admin = { id, email: 'root@example.org', password, token: login.body.token, role: 'admin' as const };
  t.equal((await ctx.json(admin, 'GET', '/api/v1/users')).status, 200, 'and administers users');

  const weak = await custodia(ctx, ['user', 'create', '--email', 'weak@example.org', '--display-name', 'Weak', '--role', 'member', '--password-stdin'], 'short\n');
  t.equal(weak.code, 1);
  t.match(weak.stderr, /password: must be at least 12 characters/);
  const duplicate = await custodia(ctx, ['user', 'create', '--email', 'root@example.org', '--display-name', 'Again', '--role', 'member', '--password-stdin'], `${password}\n`);
  t.equal(duplicate.code, 1);
  t.match(duplicate.stderr, /already exists/);
  const usage = await custodia(ctx, ['user', 'create', '--email', 'x@example.org', '--role', 'god', '--password-stdin'], `${password}\n`);
  t.equal(usage.code, 2);
  t.equal(await ctx.db.user.count(), 1, 'nothing else was created');

  const newPassword = 'second admin passphrase';
  const reset = await custodia(ctx, ['user', 'reset-password', '--email', 'ROOT@example.org', '--password-stdin'], `${newPassword}\n`);
  t.equal(reset.code, 0, reset.stderr);
  t.notOk(reset.stdout.includes(newPassword));
  t.equal((await ctx.json(admin, 'GET', '/api/v1/me')).status, 401, 'reset revoked the tokens');
  t.equal((await ctx.json(null, 'POST', '/api/v1/auth/login', { email: 'root@example.org', password })).status, 401, 'old password refused');
  const again = await ctx.json(null, 'POST', '/api/v1/auth/login', { email: 'root@example.org', password: newPassword });
  t.equal(again.status, 200, 'new password accepted');
  ctx.secrets.add(again.body.token);
  const unknown = await custodia(ctx, ['user', 'reset-password', '--email', 'nobody@example.org', '--password-stdin'], `${newPassword}\n`);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /No user has the email/);
});
