// Logs are JSON lines with the request id, and secrets never reach them.
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { ERROR_CODE, REDACTED, SECRET_NAMES, SECRET_WORDS, baseLogOptions, redactLine } from '../../src/http/log-redaction.ts';
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

t.test('what the logger redacts: secret keys at any depth, in any case, wherever they come from', async (t) => {
  const ctx = await createTestContext(t);
  const secret = 'redact-me-0123456789';
  const number = 987654321987;
  ctx.secrets.add(secret).add(String(number));
  const values = [secret, number, { nested: secret }, [secret, { deeper: secret }]];
  const names = [
    'password', 'currentPassword', 'newPassword', 'Password', 'PASSWORD', 'passwordHash', 'passphrase',
    'token', 'tokenHash', 'accessToken', 'x-auth-token', 'totp', 'totpSecret', 'secret', 'clientSecret',
    'authorization', 'Authorization', 'proxy-authorization', 'cookie', 'set-cookie',
    'fullName', 'fullname', 'contact', 'dateOfBirth', 'masterKey', 'previousMasterKeys', 'signingKey', 'privateKey',
  ];
  for (const name of names) {
    for (const value of values) {
      ctx.app.log.info({ [name]: value }, 'top level');
      ctx.app.log.info({ body: { [name]: value } }, 'one level down');
      ctx.app.log.info({ a: [{ b: { c: { [name]: value } } }] }, 'deep, in an array');
      ctx.app.log.child({ [name]: value }).info('in a child logger\'s bindings');
    }
  }
  ctx.app.log.info({ body: { code: secret }, headers: { authorization: `Bearer ${secret}`, cookie: secret } }, 'a TOTP code and headers');
  // What an HTTP client's error carries of its request, on the error and on its cause (which
  // pino's error serializer folds into the message and stack).
  const error = Object.assign(new Error('upstream refused'), { code: secret, config: { headers: { Authorization: secret }, auth: { user: 'u', pass: secret } } });
  error.cause = Object.assign(new Error('cause'), { config: { url: secret } });
  ctx.app.log.error({ err: error }, 'an error with its request');
  ctx.app.log.error(error);

  const text = ctx.logs.join('\n');
  t.notOk(text.includes(secret), 'no secret value, in any form');
  t.notOk(text.includes(String(number)), 'no secret number');
  const lines = ctx.logs.map((line) => JSON.parse(line) as Record<string, any>);
  t.equal(lines.filter((line) => line.msg === 'top level').length, names.length * values.length, 'every line is written');
  t.ok(lines.filter((line) => line.msg === 'top level').every((line) => Object.values(line).includes(REDACTED)), 'each says what it withheld');
  t.match(lines.find((line) => line.msg === 'an error with its request'), { err: { message: /^upstream refused/, code: REDACTED, config: REDACTED } });
  t.match(lines.find((line) => line.msg === 'a TOTP code and headers'), { body: { code: REDACTED }, headers: { authorization: REDACTED, cookie: REDACTED } });
});

t.test('what the logger keeps', async (t) => {
  const ctx = await createTestContext(t);
  ctx.app.log.info({ code: 'not_found', keyId: 'key-1', masterKeyId: 'mk-1', config: { limit: 5 }, tokens: undefined }, 'request refused');
  ctx.app.log.info({ req: { method: 'POST', url: '/api/v1/me/password' }, res: { statusCode: 204 } }, 'request completed');
  const failure = Object.assign(new Error('no space left on device'), { code: 'ENOSPC', cause: Object.assign(new Error('duplicate key'), { code: '23505' }) });
  ctx.app.log.error({ err: failure }, 'an error with its code');
  const [refused, completed, failed] = ctx.logs.map((line) => JSON.parse(line) as Record<string, any>);
  t.match(refused, { code: 'not_found', keyId: 'key-1', masterKeyId: 'mk-1', config: { limit: 5 }, msg: 'request refused' }, 'a problem code, key ids, a config outside an error');
  t.match(completed, { req: { method: 'POST', url: '/api/v1/me/password' }, res: { statusCode: 204 } }, 'a secret word in a value is not a secret key');
  t.match(failed, { err: { code: 'ENOSPC', message: /no space left/ } }, 'an error\'s own code, for the operator');
});

t.test('redactLine, the last step of every line', async (t) => {
  const plain = '{"level":30,"time":1,"reqId":"r","req":{"method":"GET","url":"/api/v1/cases/x"},"res":{"statusCode":200},"responseTime":1.2,"msg":"request completed"}\n';
  t.equal(redactLine(plain), plain, 'a line with no candidate is passed on as it is');
  const mention = '{"level":30,"req":{"url":"/api/v1/me/password"},"msg":"the \\"token\\": field"}\n';
  t.equal(redactLine(mention), mention, 'a word in a value only: unchanged');
  t.same(JSON.parse(redactLine('{"a\\"password":"s3cret"}\n')), { 'a"password': REDACTED }, 'a key with a quote in it');
  t.same(JSON.parse(redactLine('{"to\u212Aen":"s3cret"}\n')), { 'to\u212Aen': REDACTED }, 'a key in another case folding (KELVIN SIGN for k)');
  t.same(JSON.parse(redactLine('{"x":{"p":[1,{"Secret":{"a":1}}]}}')), { x: { p: [1, { Secret: REDACTED }] } });
  t.same(JSON.parse(redactLine('{"code":"c","x":{"code":"123456"},"config":1,"err":{"config":2,"cause":{"config":3}},"error":{"config":4}}')), {
    code: 'c',
    x: { code: REDACTED },
    config: 1,
    err: { config: REDACTED, cause: { config: REDACTED } },
    error: { config: REDACTED },
  }, 'code below the top level, config inside an error');
  t.same(
    JSON.parse(redactLine('{"err":{"message":"m","code":"ENOSPC","cause":{"message":"c","code":"57P01"},"body":{"code":"12345"}},"error":{"message":"m","code":"not_found","errors":[{"message":"e","code":"ERR_STREAM_PREMATURE_CLOSE"}]},"x":{"message":"m","code":"ENOSPC"}}')),
    {
      err: { message: 'm', code: 'ENOSPC', cause: { message: 'c', code: '57P01' }, body: { code: REDACTED } },
      error: { message: 'm', code: 'not_found', errors: [{ message: 'e', code: 'ERR_STREAM_PREMATURE_CLOSE' }] },
      x: { message: 'm', code: REDACTED },
    },
    'an error\'s own code is kept; a code in what an error carries, or outside any error, is not',
  );
  for (const code of ['123456', '000000', 'JBSWY3DPEHPK3PXP', '12 34 56', 'redact-me', 'ENOSPC\n', 'a'.repeat(40), { value: 'ENOSPC' }, 42]) {
    t.same(JSON.parse(redactLine(JSON.stringify({ err: { message: 'm', code } }))), { err: { message: 'm', code: REDACTED } }, `an error's code ${JSON.stringify(code)} is still withheld`);
  }
  for (const code of ['ENOSPC', 'EDQUOT', 'ECONNREFUSED', 'EIO', 'ERR_INVALID_ARG_TYPE', 'FST_ERR_CTP_INVALID_MEDIA_TYPE', 'UND_ERR_SOCKET', 'P2002', '23505', '08006', 'payload_too_large', 'forbidden']) {
    t.ok(ERROR_CODE.test(code), `${code} is an error code`);
  }
  const broken = redactLine('{"password": "s3cret", ');
  t.notOk(broken.includes('s3cret'), 'a line that is not JSON is withheld');
  t.match(JSON.parse(broken), { level: 50, msg: /withheld/ });
  for (const word of SECRET_WORDS) t.equal(JSON.parse(redactLine(`{"my${word.toUpperCase()}x":"v"}`))[`my${word.toUpperCase()}x`], REDACTED, `…${word}…`);
  for (const name of SECRET_NAMES) t.equal(JSON.parse(redactLine(`{"${name}":"v"}`))[name], REDACTED, name);
});

t.test('the loggers outside the HTTP app (start-up, worker, CLI) redact the same way', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino(baseLogOptions('info'), stream);
  log.info({ password: 's3cret-password', masterKey: 's3cret-key', keyId: 'k1' }, 'start-up');
  log.child({ token: 's3cret-token' }).warn('child');
  const text = lines.join('');
  t.notOk(/s3cret/.test(text), 'no secret');
  t.match(JSON.parse(lines[0]!), { password: REDACTED, masterKey: REDACTED, keyId: 'k1' });
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
