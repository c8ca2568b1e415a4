// Background jobs (pg-boss on the same PostgreSQL). Filled in by the uploads and exports work.
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.ts';
import type { Database } from '../database/client.ts';
import type { Metrics } from '../http/metrics.ts';
import type { Keys } from '../keys.ts';

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
  stop(): Promise<void>;
}

export async function startJobs(_deps: JobDeps): Promise<Jobs> {
  return { stop: async () => {} };
}
