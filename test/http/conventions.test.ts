// The HTTP conventions every route inherits: RFC 9457 problems with stable codes, request ids in
// headers and logs, a bare 500 for the unexpected, opaque cursors, If-Match. Tiny routes are
// registered on a real app (buildApp) before it is ready, so the conventions are tested alone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { Type } from 'typebox';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createMasterKeyring, generateMasterKey, generateSigningKey } from '../../src/crypto/index.ts';
import { createDatabaseClient } from '../../src/database/client.ts';
import { expectedVersion, setEtag, staleVersion } from '../../src/http/etag.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { decodeCursor, encodeCursor, pageOf, PageQuery } from '../../src/http/pagination.ts';
import { createTestDatabase } from '../helpers/database.ts';

const SQL_ERROR = 'SELECT secret_column FROM private_table WHERE x = 1 at /work/main/src/modules/x.ts:12:3';

async function conventionsApp(t: Tap): Promise<{ app: App; logs: Record<string, any>[] }> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-conventions-'));
  const config = loadConfig({ CUSTODIA_DATA_DIR: dataDir, DATABASE_URL: database.url, LOG_LEVEL: 'info' });
  const logs: Record<string, any>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const db = createDatabaseClient(database.url, 2);
  const keys = { masterRing: createMasterKeyring(generateMasterKey()), signing: generateSigningKey('custodia-test') };
  const app = await buildApp({ config, db, keys, logStream, metrics: createMetrics(false) });
  const open = { config: { access: 'public' as const } };

  app.post('/test/echo', { ...open, schema: { body: Type.Object({ name: Type.String({ maxLength: 10 }), nested: Type.Optional(Type.Object({ n: Type.Integer() }, { additionalProperties: false })) }, { additionalProperties: false }) } }, async (request) => request.body);
  app.get('/test/boom', open, async () => {
    throw new Error(SQL_ERROR);
  });
  app.get('/test/database-error', open, async () => db.$queryRawUnsafe('SELECT * FROM no_such_table_anywhere'));
  app.get('/test/page', { ...open, schema: { querystring: PageQuery } }, async (request) => {
    const after = decodeCursor(request.query.cursor, ['string', 'number']);
    const rows = [['c', 3], ['b', 2], ['a', 1]].filter(([, n]) => after === null || (n as number) < (after[1] as number));
    const limit = request.query.limit ?? 50;
    return pageOf(rows.slice(0, limit + 1), limit, (row) => row as [string, number]);
  });
  let version = 3;
  app.patch('/test/versioned', open, async (request, reply) => {
    if (expectedVersion(request) !== version) throw staleVersion();
    version += 1;
    setEtag(reply, version);
    return { version };
  });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await db.$disconnect();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { app, logs };
}

type Tap = { teardown(fn: () => unknown): void };

function assertProblem(t: Tap & { equal: Function; match: Function; ok: Function }, response: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string) {
  t.equal(response.statusCode, status, `status ${status}`);
  t.match(String(response.headers['content-type']), /^application\/problem\+json/, 'problem+json');
  const body = JSON.parse(response.body);
  t.match(body, { type: String, title: String, status, detail: String, instance: String, code }, `problem with code ${code}`);
  t.ok(response.headers['x-request-id'], 'X-Request-Id');
  return body;
}

t.test('HTTP conventions', async (t) => {
  const { app, logs } = await conventionsApp(t);

  t.test('unknown route → 404 not_found problem', async (t) => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/no/such/route?x=1' });
    const body = assertProblem(t, response, 404, 'not_found');
    t.equal(body.instance, '/api/v1/no/such/route', 'instance without the query string');
  });

  t.test('unknown property → 400 validation_failed naming it', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'x', extra: 1 } });
    const body = assertProblem(t, response, 400, 'validation_failed');
    t.match(body.errors, [{ path: 'body.extra', message: String }]);
    const nested = await app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'x', nested: { n: 1, m: 2 } } });
    t.match(JSON.parse(nested.body).errors, [{ path: 'body.nested.m' }], 'nested unknown property named by its path');
  });

  t.test('wrong type, missing field and huge string → 400 with the path', async (t) => {
    const wrong = await app.inject({ method: 'POST', url: '/test/echo', payload: { name: 12 } });
    t.match(assertProblem(t, wrong, 400, 'validation_failed').errors, [{ path: 'body.name' }]);
    const missing = await app.inject({ method: 'POST', url: '/test/echo', payload: {} });
    t.match(assertProblem(t, missing, 400, 'validation_failed').errors, [{ path: 'body.name', message: 'is required' }]);
    const huge = await app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'x'.repeat(100_000) } });
    t.match(assertProblem(t, huge, 400, 'validation_failed').errors, [{ path: 'body.name' }]);
    const ok = await app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'ada' } });
    t.equal(ok.statusCode, 200);
  });

  t.test('malformed JSON → 400 validation_failed', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"name": "x",' });
    const body = assertProblem(t, response, 400, 'validation_failed');
    t.match(body.errors, [{ path: 'body' }]);
    const empty = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '' });
    assertProblem(t, empty, 400, 'validation_failed');
  });

  t.test('wrong content type → 415 unsupported_media_type', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'text/csv' }, payload: 'name\nx\n' });
    assertProblem(t, response, 415, 'unsupported_media_type');
  });

  t.test('oversized body → 413 payload_too_large', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) });
    assertProblem(t, response, 413, 'payload_too_large');
  });

  t.test('an unexpected error → bare 500 internal, logged with the request id', async (t) => {
    for (const url of ['/test/boom', '/test/database-error']) {
      const response = await app.inject({ method: 'GET', url });
      const body = assertProblem(t, response, 500, 'internal');
      t.same(Object.keys(body).sort(), ['code', 'detail', 'instance', 'status', 'title', 'type'], 'nothing but the problem fields');
      for (const leak of ['SELECT', 'secret_column', 'no_such_table', '/work/', 'node_modules', '.ts:', 'at ', 'stack', 'prisma', 'Prisma']) {
        t.notOk(response.body.includes(leak), `the body does not contain "${leak}"`);
      }
      const id = response.headers['x-request-id'];
      const errorLine = logs.find((line) => line.level === 50 && line.reqId === id);
      t.ok(errorLine, 'an error log line carries the request id');
      t.ok(errorLine?.err, 'with the error, for the operator');
    }
  });

  t.test('every response has X-Request-Id and every log line of the request carries it', async (t) => {
    const responses = await Promise.all([
      app.inject({ method: 'GET', url: '/health/live' }),
      app.inject({ method: 'GET', url: '/nope' }),
      app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'x', extra: true } }),
      app.inject({ method: 'GET', url: '/test/boom' }),
    ]);
    const ids = responses.map((r) => String(r.headers['x-request-id']));
    t.equal(new Set(ids).size, ids.length, 'one id per request');
    for (const [i, id] of ids.entries()) {
      t.match(id, /^[0-9a-f-]{36}$/, 'a UUID');
      const lines = logs.filter((line) => line.reqId === id);
      const url = ['/health/live', '/nope', '/test/echo', '/test/boom'][i]!;
      const completed = lines.filter((line) => line.msg === 'request completed');
      t.equal(completed.length, 1, `request ${i}: one line when it ends, with its id`);
      t.match(completed[0], { req: { url }, res: { statusCode: responses[i]!.statusCode }, responseTime: Number });
      t.notOk(lines.some((line) => line.msg === 'incoming request'), 'the incoming line is at debug only');
      const unlabeled = logs.filter((line) => line.req?.url === url && line.reqId === undefined);
      t.same(unlabeled, [], 'no line about it without the id');
    }
  });

  t.test('pagination: opaque cursors, and a bad one is a 400', async (t) => {
    const key: [string, number] = ['2026-01-01T00:00:00.000Z', 42];
    const cursor = encodeCursor(key);
    t.match(cursor, /^[A-Za-z0-9_-]+$/, 'URL-safe');
    t.same(decodeCursor(cursor, ['string', 'number']), key, 'round trip');
    t.equal(decodeCursor(undefined, ['string']), null);
    t.throws(() => decodeCursor(cursor, ['number', 'number']), { code: 'validation_failed' }, 'shape is checked');
    t.same(pageOf([1, 2, 3], 2, (n) => [n]), { items: [1, 2], nextCursor: encodeCursor([2]) });
    t.same(pageOf([1, 2], 2, (n) => [n]), { items: [1, 2], nextCursor: null });

    const first = await app.inject({ method: 'GET', url: '/test/page?limit=2' });
    const page = JSON.parse(first.body);
    t.same(page.items, [['c', 3], ['b', 2]]);
    const second = JSON.parse((await app.inject({ method: 'GET', url: `/test/page?limit=2&cursor=${page.nextCursor}` })).body);
    t.same(second, { items: [['a', 1]], nextCursor: null }, 'the next page continues after the cursor');
    for (const bad of ['not-a-cursor', encodeCursor(['x']), Buffer.from('{"a":1}').toString('base64url'), '%E0%A4%A']) {
      const response = await app.inject({ method: 'GET', url: `/test/page?cursor=${bad}` });
      t.equal(response.statusCode, 400, `bad cursor ${bad} → 400`);
      t.equal(JSON.parse(response.body).code, 'validation_failed');
    }
    const tooMany = await app.inject({ method: 'GET', url: '/test/page?limit=201' });
    assertProblem(t, tooMany, 400, 'validation_failed');
  });

  t.test('ETag / If-Match: 428 without it, 412 when stale', async (t) => {
    const without = await app.inject({ method: 'PATCH', url: '/test/versioned' });
    assertProblem(t, without, 428, 'precondition_required');
    const stale = await app.inject({ method: 'PATCH', url: '/test/versioned', headers: { 'if-match': '"2"' } });
    assertProblem(t, stale, 412, 'precondition_failed');
    const garbage = await app.inject({ method: 'PATCH', url: '/test/versioned', headers: { 'if-match': 'yesterday' } });
    assertProblem(t, garbage, 412, 'precondition_failed');
    const fresh = await app.inject({ method: 'PATCH', url: '/test/versioned', headers: { 'if-match': 'W/"3"' } });
    t.equal(fresh.statusCode, 200);
    t.equal(fresh.headers.etag, '"4"', 'the new ETag');
    const again = await app.inject({ method: 'PATCH', url: '/test/versioned', headers: { 'if-match': '"3"' } });
    assertProblem(t, again, 412, 'precondition_failed');
  });
});
