// `custodia worker`: works the job queues (src/jobs/registry.ts) without serving HTTP, until
// SIGTERM/SIGINT; then lets jobs in progress finish (up to 30 s) and closes. Several may run,
// beside `serve` (CUSTODIA_WORKERS=external makes `serve` leave the jobs to them).
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import type { Config } from '../config.ts';
import { createDatabaseClient } from '../database/client.ts';
import { openDatabase } from '../database/open.ts';
import { baseLogOptions } from '../http/log-redaction.ts';
import { createMetrics } from '../http/metrics.ts';
import { loadKeys } from '../keys.ts';
import { startJobs } from './jobs.ts';

export async function runWorker(config: Config): Promise<void> {
  const log = pino(baseLogOptions(config.logLevel));
  const database = await openDatabase(config, log, { reuseRunning: true });
  const db = createDatabaseClient(database.url);
  let jobs: Awaited<ReturnType<typeof startJobs>> | null = null;
  try {
    const keys = await loadKeys(config, log);
    jobs = await startJobs({ config, db, databaseUrl: database.url, keys, log, metrics: createMetrics(), role: 'worker' });
  } catch (error) {
    await db.$disconnect();
    await database.stop();
    throw error;
  }
  const running = jobs;
  closeWithGrace({ delay: 35_000, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err: { message: err.message } }, 'worker closing after an error');
    else log.info({ signal }, 'worker closing: finishing jobs in progress');
    await running.stop();
    await db.$disconnect();
    await database.stop();
  });
  log.info({ workersInServe: config.workers === 'inline' }, 'custodia worker is ready');
}
