// Background jobs: pg-boss on the service's own PostgreSQL, in its own schema (`pgboss`, which the
// Prisma schema does not describe). What the jobs are is src/jobs/registry.ts; this file runs them.
import type { FastifyBaseLogger } from 'fastify';
import PgBoss from 'pg-boss';
import type { Config } from '../config.ts';
import type { Database } from '../database/client.ts';
import type { Metrics } from '../http/metrics.ts';
import type { Keys } from '../keys.ts';
import { JOBS, type JobDefinition } from './registry.ts';

export const JOBS_SCHEMA = 'pgboss';

export interface JobDeps {
  config: Config;
  db: Database;
  databaseUrl: string;
  keys: Keys;
  log: FastifyBaseLogger;
  metrics: Metrics;
  role: 'serve' | 'worker';
}

export interface Jobs {
  /** Queues a job of a registered queue; answers its id (null when a singleton queue refused it). */
  send(name: string, data?: object, options?: PgBoss.SendOptions): Promise<string | null>;
  /** Whether this process works the queues (it always sends and schedules). */
  readonly working: boolean;
  stop(): Promise<void>;
}

/** Workers run in `custodia worker`, and in `serve` unless CUSTODIA_WORKERS=external. */
export function runsWorkers(role: JobDeps['role'], config: Pick<Config, 'workers'>): boolean {
  return role === 'worker' || config.workers !== 'external';
}

export async function startJobs(deps: JobDeps, definitions: JobDefinition[] = JOBS): Promise<Jobs> {
  const log = deps.log.child({ component: 'jobs' });
  const boss = new PgBoss({
    connectionString: deps.databaseUrl,
    schema: JOBS_SCHEMA,
    application_name: `custodia-${deps.role}-jobs`,
    max: 4,
  });
  boss.on('error', (error) => log.error({ err: { message: error.message } }, 'job queue error'));
  await boss.start();

  const working = runsWorkers(deps.role, deps.config);
  const known = new Set<string>();
  try {
    for (const definition of definitions) {
      known.add(definition.name);
      await boss.createQueue(definition.name, { name: definition.name, ...definition.options.queue });
      const cron = definition.options.schedule?.(deps) ?? null;
      if (cron) await boss.schedule(definition.name, cron, {}, { tz: 'UTC' });
      else await boss.unschedule(definition.name);
      if (working) {
        await boss.work(definition.name, { ...definition.options.work }, async (jobs) => {
          for (const job of jobs) {
            const startedAt = performance.now();
            try {
              await definition.handler(job.data as object, deps, { send: (name, data, options) => boss.send(name, data ?? {}, options ?? {}) });
              log.info({ job: definition.name, jobId: job.id, ms: Math.round(performance.now() - startedAt) }, 'job done');
            } catch (error) {
              log.error({ job: definition.name, jobId: job.id, err: { message: (error as Error).message } }, 'job failed');
              throw error;
            }
          }
        });
      }
    }
  } catch (error) {
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    throw error;
  }
  log.info({ queues: [...known], working, role: deps.role }, 'jobs started');

  let stopped: Promise<void> | null = null;
  return {
    working,
    async send(name, data = {}, options = {}) {
      if (!known.has(name)) throw new Error(`no job queue named ${name}`);
      return boss.send(name, data, options);
    },
    stop() {
      // Graceful: jobs in progress get up to 30 s to finish before the pool closes.
      stopped ??= boss.stop({ graceful: true, wait: true, timeout: 30_000 });
      return stopped;
    },
  };
}
