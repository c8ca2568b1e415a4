// Each test file gets a fresh database, copied from a template that the migration runner built
// once per set of migrations: so every test also proves the migrations.
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate, readMigrations } from '../../src/database/migrate.ts';

export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`, which provides a database');
  return url;
}

export function urlFor(database: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

let templateName: Promise<string> | null = null;

async function ensureTemplate(): Promise<string> {
  const migrations = await readMigrations();
  const digest = createHash('sha256');
  for (const m of migrations) digest.update(m.name).update(m.checksum);
  const name = `custodia_tpl_${digest.digest('hex').slice(0, 16)}`;
  await withAdmin(async (client) => {
    await client.query("SELECT pg_advisory_lock(hashtext('custodia-test-template'))");
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) return;
      const building = `${name}_build_${process.pid}`;
      await client.query(`DROP DATABASE IF EXISTS ${building}`);
      await client.query(`CREATE DATABASE ${building}`);
      await migrate(urlFor(building));
      await client.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('custodia-test-template'))");
    }
  });
  return name;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createEmptyDatabase(prefix = 'custodia_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  return { name, url: urlFor(name), drop: () => dropDatabase(name) };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  templateName ??= ensureTemplate();
  const template = await templateName;
  const name = `custodia_test_${randomBytes(6).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await withAdmin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
      break;
    } catch (error) {
      // 55006: the template is briefly in use by a concurrent copy.
      if ((error as { code?: string }).code !== '55006' || attempt > 50) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { name, url: urlFor(name), drop: () => dropDatabase(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
