// Logs are JSON lines with the request id, and secrets never reach them.
import t from 'tap';
import { REDACTED_PATHS } from '../../src/http/logger.ts';
import { createTestContext } from '../helpers/app.ts';

t.test('a login attempt leaves no password or Authorization header in the logs', async (t) => {
  const ctx = await createTestContext(t);
  const user = await ctx.createUser();
  const password = 'Sup3r-secret-password-that-must-not-leak';
  const bearer = 'bearer-token-value-that-must-not-leak-0123456789';
  ctx.secrets.add(password).add(bearer).add(user.password).add(user.token);

  const responses = [
    await ctx.inject(null, { method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password }, headers: { authorization: `Bearer ${bearer}` } }),
    await ctx.inject(null, { method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } }),
    await ctx.inject(user, { method: 'GET', url: '/api/v1/me', headers: { cookie: `session=${bearer}` } }),
    await ctx.inject(null, { method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password, totp: '123456', extra: password } }),
  ];
  const login = responses[1]!;
  if (login.statusCode === 200) ctx.secrets.add(JSON.parse(login.body).token);

  const text = ctx.logs.join('\n');
  t.notOk(text.includes(password), 'no password');
  t.notOk(text.includes(user.password), 'no password of a successful login');
  t.notOk(text.includes(bearer), 'no Authorization header or cookie');
  t.notOk(text.includes(user.token), 'no bearer token');

  const lines = ctx.logs.map((line) => JSON.parse(line) as Record<string, any>);
  t.ok(lines.length > 0);
  for (const response of responses) {
    const id = response.headers['x-request-id'];
    const mine = lines.filter((line) => line.reqId === id);
    t.ok(mine.some((line) => line.msg === 'request completed' && line.req?.method && line.res?.statusCode === response.statusCode), 'the request is logged, when it ends, with its id');
    t.ok(mine.every((line) => typeof line.time === 'number' && typeof line.level === 'number' && typeof line.msg === 'string'), 'pino JSON lines');
  }
});

t.test('what the logger redacts', async (t) => {
  const ctx = await createTestContext(t);
  const secret = 'redact-me-0123456789';
  ctx.secrets.add(secret);
  ctx.app.log.info({ body: { password: secret, currentPassword: secret, newPassword: secret, token: secret, totp: secret, code: secret, secret, fullName: secret, contact: secret, dateOfBirth: secret } }, 'fields');
  ctx.app.log.info({ req: { headers: { authorization: `Bearer ${secret}`, cookie: secret } } }, 'headers');
  const text = ctx.logs.join('\n');
  t.notOk(text.includes(secret), 'every secret field is redacted');
  t.match(text, /\[redacted\]/);
  for (const path of ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token', '*.totp']) t.ok(REDACTED_PATHS.includes(path), `${path} is redacted`);
});

t.test('a request line names the path, never the query string (a search can carry a name)', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const name = 'Aminata Traoré-Keïta';
  const url = `/api/v1/cases/${testCase.id}/incidents?q=${encodeURIComponent(name)}`;
  const response = await ctx.inject(testCase.users.investigator, { method: 'GET', url });
  t.equal(response.statusCode, 200);
  const lines = ctx.logs.map((line) => JSON.parse(line) as Record<string, any>);
  const completed = lines.find((line) => line.reqId === response.headers['x-request-id'] && line.msg === 'request completed');
  t.match(completed, { req: { method: 'GET', url: `/api/v1/cases/${testCase.id}/incidents` }, res: { statusCode: 200 } });
  const text = ctx.logs.join('\n');
  t.notOk(text.includes('Aminata') || text.includes(encodeURIComponent('Aminata')), 'the searched name is in no log line');
});
