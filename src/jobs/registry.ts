// Every background job of the service, as data. To add one (e.g. the export jobs):
//
//   1. write its handler next to its domain (src/modules/<domain>/…), taking its data and JobDeps;
//   2. append a JobDefinition below: a `name` (the pg-boss queue, "<domain>.<verb>"), the handler,
//      and `options`: queue settings (retries, expiry, retention, policy), optionally `schedule`
//      (a cron line: pg-boss creates one job per tick cluster-wide, so several instances do not
//      all run it) and worker settings (`batchSize`, `pollingIntervalSeconds`);
//   3. send work from anywhere holding the `Jobs` from startJobs: `jobs.send(name, data)`.
//
// startJobs creates every queue, installs every schedule and, where workers run (`serve` with
// CUSTODIA_WORKERS=inline, or `custodia worker`), works every queue.
import type PgBoss from 'pg-boss';
import { pruneLoginAttempts } from '../modules/auth/login-attempts.prune.ts';
import { runIntegrityCheck } from '../modules/integrity/integrity.check.ts';
import { expireUploads } from '../modules/uploads/uploads.expire.ts';
import { exportJobDefinition, exportRescueDefinition } from '../modules/exports/exports.queue.ts';
import type { JobDeps, Jobs } from './jobs.ts';

export interface JobDefinition<Data extends object = object> {
  name: string;
  /** Runs one job; a rejection fails it (and pg-boss retries it as the queue says). */
  handler(data: Data, deps: JobDeps, jobs: Pick<Jobs, 'send'>): Promise<unknown>;
  options: {
    queue?: Omit<PgBoss.Queue, 'name'>;
    /** Cron (5 fields, UTC) from the configuration; null: sent on demand only. */
    schedule?: (deps: Pick<JobDeps, 'config'>) => string | null;
    work?: PgBoss.WorkOptions;
  };
}

export const JOBS: JobDefinition[] = [
  {
    name: 'uploads.expire',
    handler: (_data, deps) => expireUploads(deps),
    options: {
      // At most one queued and one running: a tick while one waits adds nothing.
      queue: { policy: 'stately', retryLimit: 2, retryDelay: 60, expireInSeconds: 15 * 60 },
      schedule: ({ config }) => config.uploadExpirySchedule,
    },
  },
  exportJobDefinition as JobDefinition,
  exportRescueDefinition,
  {
    name: 'integrity.check',
    handler: (_data, deps) => runIntegrityCheck(deps),
    options: {
      // Never retried (the next tick checks again) and one at a time: it reads every stored byte,
      // hours for a large archive (pg-boss allows a job less than a day).
      queue: { policy: 'stately', retryLimit: 0, expireInSeconds: 23 * 3600 },
      schedule: ({ config }) => config.integrityCheckSchedule,
      work: { batchSize: 1 },
    },
  },
  {
    name: 'auth.prune',
    handler: (_data, deps) => pruneLoginAttempts(deps),
    options: {
      queue: { policy: 'stately', retryLimit: 2, retryDelay: 60, expireInSeconds: 15 * 60 },
      // Hourly: the rate-limit windows are minutes long.
      schedule: () => '41 * * * *',
    },
  },
];
