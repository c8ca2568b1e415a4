// `custodia serve`: config → database (embedded unless DATABASE_URL) → migrations → keys →
// the app, listening; the metrics on their own address; a graceful close on SIGTERM/SIGINT.
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import Fastify from 'fastify';
import pino from 'pino';
import { buildApp } from './app.ts';
import { loadConfig, type Config } from './config.ts';
import { createDatabaseClient } from './database/client.ts';
import { openDatabase } from './database/open.ts';
import { baseLogOptions } from './http/log-redaction.ts';
import { createMetrics, type Metrics, watchIntegrity, watchStorage } from './http/metrics.ts';
import { lastCheck } from './modules/integrity/integrity.history.ts';
import { loadKeys } from './keys.ts';
import { startJobs } from './jobs/jobs.ts';

/** One `serve` per data directory: a second one would stop the first one's database. */
async function lockDataDir(config: Config): Promise<() => Promise<void>> {
  if (config.databaseUrl) return async () => {};
  await mkdir(config.dataDir, { recursive: true });
  const file = join(config.dataDir, 'custodia.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(await readFile(file, 'utf8').catch(() => ''));
      let alive = false;
      try {
        if (pid > 0 && pid !== process.pid) {
          process.kill(pid, 0);
          alive = true;
        }
      } catch {
        alive = false;
      }
      if (alive) throw new Error(`another custodia serve (pid ${pid}) is using ${config.dataDir}`);
      await rm(file, { force: true });
    }
  }
  throw new Error(`cannot lock ${config.dataDir}`);
}

async function serveMetrics(metrics: Metrics, address: { host: string; port: number }) {
  const server = Fastify({ logger: false });
  server.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  await server.listen({ host: address.host, port: address.port });
  return server;
}

export async function serve(config: Config = loadConfig()): Promise<void> {
  const startedAt = performance.now();
  const log = pino(baseLogOptions(config.logLevel));
  const unlock = await lockDataDir(config);
  const database = await openDatabase(config, log);
  const db = createDatabaseClient(database.url);
  const keys = await loadKeys(config, log);
  const metrics = createMetrics();
  watchStorage(metrics, config.dataDir);
  watchIntegrity(metrics, () => lastCheck(db));
  const app = await buildApp({ config, db, keys, metrics });
  // The job queues start while the app compiles its routes (listen): one waits on the database,
  // the other on the CPU. Requests do not need them: an export is queued in its own transaction.
  const jobs = startJobs({ config, db, databaseUrl: database.url, keys, log: app.log, metrics, role: 'serve' });
  const metricsServer = config.metricsAddress ? await serveMetrics(metrics, config.metricsAddress) : null;

  const shutdown = async () => {
    await app.close();
    await metricsServer?.close();
    await (await jobs.catch(() => null))?.stop();
    await db.$disconnect();
    await database.stop();
    await unlock();
  };
  let closing = false;
  const grace = closeWithGrace({ delay: 30_000, logger: app.log }, async ({ signal, err }) => {
    closing = true;
    if (err) app.log.error({ err }, 'closing after an error');
    else app.log.info({ signal }, 'closing: finishing requests in flight');
    await shutdown();
  });

  try {
    await Promise.all([jobs, app.listen({ host: config.host, port: config.port })]);
  } catch (error) {
    // The queues or the listener failed: nothing may stay running (the database least of all),
    // and the exit code must say so (close-with-grace would exit 0 when the loop empties).
    if (!closing) {
      grace.uninstall();
      await shutdown().catch(() => {});
    }
    throw error;
  }
  // A stop asked for while the job queues were still starting (the app already answered) wins.
  if (closing) return;
  app.log.info({ readyInMs: Math.round(performance.now() - startedAt), embeddedDatabase: database.embedded }, 'custodia is ready');
}
