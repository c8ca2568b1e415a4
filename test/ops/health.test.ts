// Liveness and readiness, against a PostgreSQL this test starts and stops for real: readiness
// answers 503 while the database is down and recovers without restarting the app.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createMasterKeyring, generateMasterKey, generateSigningKey } from '../../src/crypto/index.ts';
import { createDatabaseClient } from '../../src/database/client.ts';
import { migrate } from '../../src/database/migrate.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { createTestContext } from '../helpers/app.ts';
import { startCluster, waitFor } from './embedded-cluster.ts';

t.test('live and ready answer 200', async (t) => {
  const ctx = await createTestContext(t);
  const live = await ctx.json(null, 'GET', '/health/live');
  t.same([live.status, live.body], [200, { status: 'ok' }]);
  const ready = await ctx.json(null, 'GET', '/health/ready');
  t.same([ready.status, ready.body], [200, { status: 'ready' }]);
});

t.test('readiness follows the database down and back up, without a restart', async (t) => {
  const cluster = await startCluster();
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-health-'));
  t.teardown(async () => {
    await cluster.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });
  await migrate(cluster.url);
  const config = loadConfig({ CUSTODIA_DATA_DIR: dataDir, DATABASE_URL: cluster.url, LOG_LEVEL: 'silent' });
  const db = createDatabaseClient(cluster.url, 2);
  const keys = { masterRing: createMasterKeyring(generateMasterKey()), signing: generateSigningKey('custodia-test') };
  const app = await buildApp({ config, db, keys, metrics: createMetrics(false) });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await db.$disconnect().catch(() => {});
  });
  const ready = () => app.inject({ method: 'GET', url: '/health/ready' });

  t.equal((await ready()).statusCode, 200, 'ready with the database up');

  await cluster.stop();
  const down = await ready();
  t.equal(down.statusCode, 503, '503 with the database stopped');
  t.match(down.headers['content-type'], /application\/problem\+json/);
  t.match(JSON.parse(down.body), { code: 'service_unavailable', status: 503 });
  t.notMatch(down.body, /ECONNREFUSED|127\.0\.0\.1|postgres/i, 'no connection details in the body');
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'still live');

  await cluster.start();
  const back = await waitFor('readiness to recover', async () => ((await ready()).statusCode === 200 ? true : null), 20_000, 200);
  t.ok(back, '200 again once the database is back, same app');
});
