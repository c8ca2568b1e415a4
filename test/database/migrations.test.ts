// The migration runner against real, empty databases: a fresh database reaches the latest schema,
// a second run applies nothing, an edited or unknown migration is refused, a failing one leaves
// nothing behind, and two runners at once apply each migration exactly once.
import { cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { MIGRATIONS_DIR, MigrationError, migrate, readMigrations } from '../../src/database/migrate.ts';
import { createEmptyDatabase } from '../helpers/database.ts';

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function freshDatabase(t: Test) {
  const database = await createEmptyDatabase('custodia_mig');
  t.teardown(() => database.drop());
  return database;
}

async function migrationsCopy(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

t.test('a fresh database reaches the latest schema, and a second run applies nothing', async (t) => {
  const { url } = await freshDatabase(t);
  const migrations = await readMigrations();
  t.ok(migrations.length > 0, 'there are migrations');
  const applied = await migrate(url);
  t.same(applied, migrations.map((m) => m.name), 'every folder applied, in order');
  const rows = await query<{ name: string; checksum: string }>(url, 'SELECT name, checksum FROM schema_migrations ORDER BY name');
  t.same(rows, migrations.map((m) => ({ name: m.name, checksum: m.checksum })), 'schema_migrations lists every folder with its checksum');
  const tables = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('users', 'cases', 'audit_entries', 'revisions')");
  t.equal(tables[0]?.n, 4, 'the foundation tables exist');
  t.same(await migrate(url), [], 'running again applies nothing');
});

t.test('an edited landed migration is refused with a clear error', async (t) => {
  const { url } = await freshDatabase(t);
  const dir = await migrationsCopy(t);
  await migrate(url, dir);
  const [first] = await readMigrations(dir);
  const file = join(dir, first!.name, 'migration.sql');
  await writeFile(file, `${await readFile(file, 'utf8')}\n-- an innocent-looking edit\n`);
  await t.rejects(migrate(url, dir), MigrationError);
  await t.rejects(migrate(url, dir), { message: new RegExp(`migration ${first!.name} was edited after it was applied`) });
});

t.test('a migration the code does not know is refused', async (t) => {
  const { url } = await freshDatabase(t);
  await migrate(url);
  await query(url, "INSERT INTO schema_migrations (name, checksum) VALUES ('29991231235959_from_the_future', 'x')");
  await t.rejects(migrate(url), { name: 'MigrationError', message: /29991231235959_from_the_future.*does not know/ });
});

t.test('a failing migration is rolled back and not recorded', async (t) => {
  const { url } = await freshDatabase(t);
  const dir = await migrationsCopy(t);
  const name = '29991231235959_broken';
  await mkdir(join(dir, name));
  await writeFile(join(dir, name, 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n');
  await t.rejects(migrate(url, dir), { name: 'MigrationError', message: new RegExp(`migration ${name} failed`) });
  const recorded = await query(url, 'SELECT 1 FROM schema_migrations WHERE name = $1', [name]);
  t.equal(recorded.length, 0, 'not recorded');
  const table = await query(url, "SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'");
  t.equal(table.length, 0, 'its first statement was rolled back');
  const earlier = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM schema_migrations');
  t.equal(earlier[0]?.n, (await readMigrations()).length, 'the good migrations before it stay applied');
});

t.test('two runners at once apply each migration exactly once', async (t) => {
  const { url } = await freshDatabase(t);
  const migrations = await readMigrations();
  const [a, b] = await Promise.all([migrate(url), migrate(url)]);
  t.same([...a!, ...b!].sort(), migrations.map((m) => m.name), 'between them, each applied once');
  t.ok(a!.length === 0 || b!.length === 0, 'the second runner waited for the first and found nothing to do');
  const rows = await query<{ name: string; n: number }>(url, 'SELECT name, count(*)::int AS n FROM schema_migrations GROUP BY name');
  t.equal(rows.length, migrations.length);
  t.ok(rows.every((row) => row.n === 1));
});
