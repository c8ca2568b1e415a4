// A scratch database for a benchmark: a new database on DATABASE_URL's server, or, without it, a
// throwaway embedded PostgreSQL cluster. Migrated; dropped (or removed) by `drop()`.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/database/migrate.ts';
import { freePort, startThrowawayPostgres } from '../../scripts/throwaway-postgres.ts';
export { freePort };

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

async function onServer(serverUrl: string): Promise<ScratchDatabase> {
  const name = `custodia_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function embedded(): Promise<ScratchDatabase> {
  const postgres = await startThrowawayPostgres({ prefix: 'custodia-bench-pg-' });
  return {
    url: postgres.url,
    async drop() {
      await postgres.cluster.stop();
      await postgres.remove();
    },
  };
}

export async function scratchDatabase(): Promise<ScratchDatabase & { where: string }> {
  const serverUrl = process.env.DATABASE_URL;
  const database = serverUrl ? await onServer(serverUrl) : await embedded();
  await migrate(database.url);
  return { ...database, where: serverUrl ? 'DATABASE_URL server' : 'embedded PostgreSQL' };
}
