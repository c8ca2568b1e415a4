// Append-only tables refuse UPDATE, DELETE and TRUNCATE in the database itself (triggers calling
// refuse_mutation()), whoever connects. Raw SQL, no service in between. Every table that uses
// refuse_mutation() is covered, so tables added later are tested without editing this file.
import pg from 'pg';
import t from 'tap';
import { createTestDatabase } from '../helpers/database.ts';

/** Tables that must be append-only whatever the triggers say. */
const APPEND_ONLY_TABLES = ['audit_entries', 'revisions'];

interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  identity: string;
  generated: string;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * One row for a table, inserted with foreign keys and user triggers off
 * (session_replication_role = replica): values chosen to pass the usual CHECKs (hex digests,
 * 32-byte hashes, the first value of an IN list, non-negative numbers).
 */
async function insertRow(client: pg.Client, table: string): Promise<void> {
  const { rows: columns } = await client.query<ColumnInfo>(
    `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type, a.attnotnull AS "notNull",
            a.atthasdef AS "hasDefault", a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [table],
  );
  const { rows: checks } = await client.query<{ def: string }>(
    "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'",
    [table],
  );
  const names: string[] = [];
  const values: string[] = [];
  for (const column of columns) {
    if (column.generated || column.identity || column.hasDefault || !column.notNull) continue;
    const inList = checks
      .map((c) => new RegExp(`\\(?${column.name}\\)? = ANY \\(\\(?ARRAY\\['([^']*)'`).exec(c.def) ?? new RegExp(`${column.name} IN \\('([^']*)'`).exec(c.def))
      .find(Boolean);
    let value: string;
    if (column.type.endsWith('[]')) value = "'{}'";
    else if (inList) value = `'${inList[1]}'`;
    else if (column.type === 'uuid') value = 'gen_random_uuid()';
    else if (column.type === 'text' || column.type === 'character varying') value = `'${'a'.repeat(64)}'`;
    else if (column.type === 'bytea') value = "'\\x" + '00'.repeat(32) + "'::bytea";
    else if (['integer', 'bigint', 'smallint', 'numeric', 'double precision', 'real'].includes(column.type)) value = '0';
    else if (column.type === 'boolean') value = 'false';
    else if (column.type === 'jsonb' || column.type === 'json') value = "'{}'";
    else if (column.type.startsWith('timestamp') || column.type === 'date') value = 'now()';
    else throw new Error(`no sample value for ${table}.${column.name} (${column.type})`);
    names.push(quote(column.name));
    values.push(value);
  }
  await client.query("SET session_replication_role = 'replica'");
  try {
    await client.query(names.length ? `INSERT INTO ${quote(table)} (${names.join(', ')}) VALUES (${values.join(', ')})` : `INSERT INTO ${quote(table)} DEFAULT VALUES`);
  } finally {
    await client.query("SET session_replication_role = 'origin'");
  }
}

t.test('append-only tables refuse UPDATE, DELETE and TRUNCATE', async (t) => {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  t.teardown(async () => {
    await client.end();
    await database.drop();
  });

  const { rows: triggers } = await client.query<{ table: string; timing: string; events: string; level: string; enabled: string }>(
    `SELECT c.relname AS table,
            CASE WHEN tg.tgtype & 2 = 2 THEN 'BEFORE' ELSE 'AFTER' END AS timing,
            concat_ws(',', CASE WHEN tg.tgtype & 8 = 8 THEN 'DELETE' END, CASE WHEN tg.tgtype & 16 = 16 THEN 'UPDATE' END,
                           CASE WHEN tg.tgtype & 32 = 32 THEN 'TRUNCATE' END) AS events,
            CASE WHEN tg.tgtype & 1 = 1 THEN 'ROW' ELSE 'STATEMENT' END AS level,
            tg.tgenabled AS enabled
       FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
      WHERE tg.tgfoid = 'refuse_mutation'::regproc AND NOT tg.tgisinternal`,
  );
  const tables = [...new Set([...APPEND_ONLY_TABLES, ...triggers.map((tr) => tr.table)])].sort();
  t.comment(`append-only tables: ${tables.join(', ')}`);

  for (const table of tables) {
    await t.test(table, async (t) => {
      const mine = triggers.filter((tr) => tr.table === table && tr.enabled !== 'D');
      const covers = (event: string, level: string) => mine.some((tr) => tr.timing === 'BEFORE' && tr.level === level && tr.events.split(',').includes(event));
      t.ok(covers('UPDATE', 'ROW'), 'a BEFORE UPDATE row trigger calls refuse_mutation()');
      t.ok(covers('DELETE', 'ROW'), 'a BEFORE DELETE row trigger calls refuse_mutation()');
      t.ok(covers('TRUNCATE', 'STATEMENT'), 'a BEFORE TRUNCATE trigger calls refuse_mutation()');

      await insertRow(client, table);
      const count = async () => Number((await client.query(`SELECT count(*) AS n FROM ${quote(table)}`)).rows[0].n);
      t.equal(await count(), 1, 'a row was inserted (inserting is allowed)');
      const firstColumn = (await client.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attidentity = '' AND attgenerated = '' ORDER BY attnum LIMIT 1`, [table])).rows[0].attname as string;
      for (const [what, sql] of [
        ['UPDATE', `UPDATE ${quote(table)} SET ${quote(firstColumn)} = ${quote(firstColumn)}`],
        ['DELETE', `DELETE FROM ${quote(table)}`],
        ['TRUNCATE', `TRUNCATE ${quote(table)} CASCADE`],
      ] as const) {
        await t.rejects(client.query(sql), { code: '42501', message: new RegExp(`${table} is append-only: ${what} refused`) }, `${what} is refused`);
      }
      t.equal(await count(), 1, 'the row is still there');
    });
  }
});
