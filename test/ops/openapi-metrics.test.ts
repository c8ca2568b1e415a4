// The OpenAPI 3.1 document lists the API, /docs answers a page, and the metrics count requests
// and watch the room left for evidence.
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createMetrics, watchStorage } from '../../src/http/metrics.ts';
import { createTestContext } from '../helpers/app.ts';

// Routes of the contract (API.md): each one the app serves must be in the document.
const CONTRACT_ROUTES: [string, string][] = [
  ['GET', '/health/live'], ['GET', '/health/ready'],
  ['POST', '/api/v1/auth/login'], ['POST', '/api/v1/auth/logout'], ['GET', '/api/v1/me'], ['POST', '/api/v1/me/password'],
  ['POST', '/api/v1/users'], ['GET', '/api/v1/users'], ['GET', '/api/v1/users/:id'], ['PATCH', '/api/v1/users/:id'],
  ['POST', '/api/v1/cases'], ['GET', '/api/v1/cases'], ['GET', '/api/v1/cases/:caseId'], ['PATCH', '/api/v1/cases/:caseId'],
  ['PUT', '/api/v1/cases/:caseId/members/:userId'], ['GET', '/api/v1/cases/:caseId/members'],
  ['GET', '/api/v1/audit'], ['GET', '/api/v1/cases/:caseId/audit'], ['GET', '/api/v1/vocabularies/:name'],
  ['GET', '/api/v1/evidence/:id'], ['GET', '/api/v1/cases/:caseId/custody'], ['GET', '/api/v1/custody/keys'],
];

t.test('/openapi.json is OpenAPI 3.1 and lists the API', async (t) => {
  const ctx = await createTestContext(t);
  const { status, body } = await ctx.json(null, 'GET', '/openapi.json');
  t.equal(status, 200);
  t.match(body.openapi, /^3\.1\./, 'OpenAPI 3.1');
  t.match(body.info, { title: 'Custodia', version: String });
  const paths = Object.keys(body.paths ?? {});
  let served = 0;
  for (const [method, url] of CONTRACT_ROUTES) {
    if (!ctx.app.hasRoute({ method: method as 'GET', url })) continue;
    served++;
    const documented = url.replace(/:(\w+)/g, '{$1}');
    t.ok(body.paths?.[documented]?.[method.toLowerCase()], `${method} ${documented} is documented`);
  }
  t.ok(served >= 2, `the served contract routes are documented (${served})`);
  t.ok(paths.every((p) => !p.includes(':')), 'path parameters in OpenAPI form');
  t.notOk(paths.includes('/openapi.json'), 'the document itself is hidden');
});

t.test('/docs answers a browsable page', async (t) => {
  const ctx = await createTestContext(t);
  const response = await ctx.inject(null, { method: 'GET', url: '/docs' });
  const page = response.statusCode === 302 ? await ctx.inject(null, { method: 'GET', url: String(response.headers.location).replace(/^\.\//, '/docs/') }) : response;
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /<html/i);
});

t.test('metrics count requests by route and status, and time them', async (t) => {
  const metrics = createMetrics(false);
  const text0 = await metrics.registry.metrics();
  t.notMatch(text0, /custodia_http_requests_total\{/, 'nothing counted yet');
  const ctx = await createTestContext(t);
  await ctx.inject(null, { method: 'GET', url: '/health/live' });
  await ctx.inject(null, { method: 'GET', url: '/no/such/thing' });
  const text = await ctx.app.metrics.registry.metrics();
  t.match(text, /custodia_http_requests_total\{method="GET",route="\/health\/live",status="200"\} 1/);
  t.match(text, /custodia_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/, 'unknown URLs do not make a label each');
  t.match(text, /custodia_http_request_duration_seconds_count\{method="GET",route="\/health\/live"\} 1/);
  const withDefaults = await createMetrics(true).registry.metrics();
  t.match(withDefaults, /custodia_process_cpu/, 'process metrics when asked');
  t.equal((await ctx.inject(null, { method: 'GET', url: '/metrics' })).statusCode, 404, 'no /metrics on the public app');
});

t.test('storage metrics: free and total bytes of the data directory\'s filesystem, read at each scrape', async (t) => {
  const metrics = createMetrics(false);
  watchStorage(metrics, tmpdir());
  const { bavail, blocks, bsize } = await statfs(tmpdir());
  const text = await metrics.registry.metrics();
  const free = Number(/^custodia_storage_free_bytes (\d+)$/m.exec(text)?.[1]);
  const size = Number(/^custodia_storage_size_bytes (\d+)$/m.exec(text)?.[1]);
  t.equal(size, blocks * bsize, 'the filesystem\'s size');
  t.ok(Math.abs(free - bavail * bsize) < 1024 ** 3, 'its free bytes (within a GiB of a read a moment before)');
  const unreadable = createMetrics(false);
  watchStorage(unreadable, join(tmpdir(), 'no-such-directory-for-custodia'));
  t.match(await unreadable.registry.metrics(), /^custodia_storage_free_bytes nan$/im, 'NaN when the directory cannot be read, and the scrape still answers');
});
