// The `exports.run` queue: its definition for src/jobs/registry.ts, and the send, which runs in
// the transaction that creates the export row (pg-boss writes its job row through that same
// transaction): an export is queued exactly when its row exists.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import PgBoss from 'pg-boss';
import type { Config } from '../../config.ts';
import type { Transaction } from '../../database/client.ts';
import type { JobDeps } from '../../jobs/jobs.ts';
import type { JobDefinition } from '../../jobs/registry.ts';
import { blobStoreFor } from '../../storage/index.ts';
import { STALE_SECONDS, runExportJob } from './exports.job.ts';

export const EXPORT_QUEUE = 'exports.run';
// The pg-boss schema (src/jobs/jobs.ts JOBS_SCHEMA); not imported, to keep the registry free of cycles.
const JOBS_SCHEMA = 'pgboss';
const RETRY_DELAY_SECONDS = 5;

type ExportJobData = { exportId?: unknown };

export const exportJobDefinition: JobDefinition<ExportJobData> = {
  name: EXPORT_QUEUE,
  handler: async (data, deps: JobDeps) => {
    if (typeof data.exportId !== 'string') return;
    await runExportJob({ db: deps.db, config: deps.config, keys: deps.keys, log: deps.log, store: blobStoreFor(deps.config) }, data.exportId);
  },
  // One export per worker at a time: each streams gigabytes. Expiry and retries come with each
  // job (from the configuration) in enqueueExport.
  options: { work: { batchSize: 1, pollingIntervalSeconds: 1 } },
};

/**
 * Exports made before bundles became segments wrote their zip into `<data dir>/exports/work/<id>`,
 * and an attempt that crashed left it there: a copy of the case's evidence (and, unredacted, of
 * witness identities) outside the store, that nothing else removes. No code writes there now.
 */
export async function removeLegacyWorkDirectories(dataDir: string, log: Pick<JobDeps['log'], 'warn'>): Promise<void> {
  const dir = join(dataDir, 'exports', 'work');
  const left = await readdir(dir).catch(() => null);
  if (left === null) return;
  await rm(dir, { recursive: true, force: true });
  log.warn({ removed: left.length }, 'removed the work directories of exports made by an earlier version');
}

/**
 * A worker killed mid-export leaves its pg-boss job "active" until the job's expiry (hours, for
 * big exports). Every minute this finds exports whose attempt stopped beating and queues a new
 * attempt at once; the attempt takes the row only if it is still stale, so a rescue racing a live
 * attempt does nothing. It also clears what exports of an earlier version left behind.
 */
export const exportRescueDefinition: JobDefinition = {
  name: 'exports.rescue',
  handler: async (_data, deps, jobs) => {
    await removeLegacyWorkDirectories(deps.config.dataDir, deps.log);
    const stale = await deps.db.$queryRaw<{ id: string }[]>`
      SELECT id::text FROM exports
       WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => ${STALE_SECONDS * 2})`;
    for (const { id } of stale) {
      deps.log.warn({ exportId: id }, 'export attempt stopped beating: queueing a new attempt');
      await jobs.send(EXPORT_QUEUE, { exportId: id }, {
        singletonKey: `rescue:${id}`,
        retryLimit: 0,
        expireInSeconds: deps.config.exportTimeoutSeconds,
      });
    }
  },
  options: {
    queue: { policy: 'stately', retryLimit: 0, expireInSeconds: 5 * 60 },
    schedule: () => '* * * * *',
  },
};

/** pg-boss's SQL executor over a Prisma transaction. */
function inTransaction(tx: Transaction) {
  return {
    async executeSql(text: string, values: unknown[] = []) {
      const params = values.map((v) => (v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v));
      return { rows: await tx.$queryRawUnsafe<{ id: string }[]>(text, ...params) };
    },
  };
}

let sender: PgBoss | null = null;

/** Queues the job for `exportId` inside `tx`. */
export async function enqueueExport(tx: Transaction, config: Pick<Config, 'exportTimeoutSeconds' | 'exportAttempts'>, exportId: string): Promise<void> {
  const db = inTransaction(tx);
  // Never started: it only lends pg-boss's send (validation and SQL) to our transaction.
  sender ??= new PgBoss({ db, schema: JOBS_SCHEMA, supervise: false, schedule: false, migrate: false });
  const id = await sender.send(EXPORT_QUEUE, { exportId }, {
    db,
    expireInSeconds: config.exportTimeoutSeconds,
    retryLimit: Math.max(0, config.exportAttempts - 1),
    retryDelay: RETRY_DELAY_SECONDS,
    retryBackoff: true,
  });
  if (!id) throw new Error(`the ${EXPORT_QUEUE} queue does not exist: the job queues were not started on this database`);
}
