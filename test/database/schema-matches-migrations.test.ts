// prisma/schema.prisma must describe exactly what the migrations build: every model a table,
// every field a column of a compatible type and nullability, the same defaults, keys and unique
// constraints; and every table and column of the database a model and a field. Generic over all
// models, so it keeps holding as models are added. The schema file is parsed here (Prisma 7 does
// not ship its DMMF in the generated client, and @prisma/internals is not a dependency).
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import t from 'tap';
import { createTestDatabase } from '../helpers/database.ts';

const SCHEMA_FILE = new URL('../../prisma/schema.prisma', import.meta.url);
const IGNORED_TABLES = new Set(['schema_migrations']);
// pg-boss keeps its tables in its own schema; only `public` is Prisma's.
const SCHEMA = 'public';

interface Field {
  name: string;
  column: string;
  type: string;
  list: boolean;
  optional: boolean;
  native: string | null;
  hasDefault: boolean;
  id: boolean;
  unique: boolean;
  relation: boolean;
}

interface Model {
  name: string;
  table: string;
  fields: Field[];
  compositeIds: string[][];
  compositeUniques: string[][];
}

function fieldList(text: string): string[] {
  return text.split(',').map((part) => /^\s*(\w+)/.exec(part)?.[1] ?? '').filter(Boolean);
}

export function parseSchema(text: string): { models: Model[]; enums: Map<string, string> } {
  const lines = text.replace(/\/\/.*$/gm, '').split('\n');
  const enums = new Map<string, string>();
  const blocks: { kind: string; name: string; body: string[] }[] = [];
  let current: { kind: string; name: string; body: string[] } | null = null;
  for (const line of lines) {
    const start = /^\s*(model|enum|view|type)\s+(\w+)\s*\{/.exec(line);
    if (start) {
      current = { kind: start[1]!, name: start[2]!, body: [] };
      continue;
    }
    if (current && /^\s*\}/.test(line)) {
      blocks.push(current);
      current = null;
      continue;
    }
    current?.body.push(line.trim());
  }
  for (const block of blocks.filter((b) => b.kind === 'enum')) {
    const mapped = block.body.map((l) => /^@@map\("([^"]+)"\)/.exec(l)?.[1]).find(Boolean);
    enums.set(block.name, mapped ?? block.name);
  }
  const modelNames = new Set(blocks.filter((b) => b.kind === 'model').map((b) => b.name));
  const models: Model[] = [];
  for (const block of blocks.filter((b) => b.kind === 'model')) {
    const model: Model = { name: block.name, table: block.name, fields: [], compositeIds: [], compositeUniques: [] };
    for (const line of block.body) {
      if (!line) continue;
      if (line.startsWith('@@')) {
        const map = /^@@map\("([^"]+)"\)/.exec(line);
        if (map) model.table = map[1]!;
        const id = /^@@id\(\s*(?:fields:\s*)?\[([^\]]*)\]/.exec(line);
        if (id) model.compositeIds.push(fieldList(id[1]!));
        const unique = /^@@unique\(\s*(?:fields:\s*)?\[([^\]]*)\]/.exec(line);
        if (unique) model.compositeUniques.push(fieldList(unique[1]!));
        continue;
      }
      const match = /^(\w+)\s+(\w+(?:\("[^"]*"\))?)(\[\]|\?)?\s*(.*)$/.exec(line);
      if (!match) continue;
      const [, name, type, modifier, attributes] = match as unknown as [string, string, string, string | undefined, string];
      const relation = modelNames.has(type);
      model.fields.push({
        name,
        column: /@map\("([^"]+)"\)/.exec(attributes)?.[1] ?? name,
        type,
        list: modifier === '[]',
        optional: modifier === '?',
        native: /@db\.(\w+)/.exec(attributes)?.[1] ?? null,
        hasDefault: /@default\(/.test(attributes),
        id: /(^|\s)@id\b/.test(attributes),
        unique: /(^|\s)@unique\b/.test(attributes),
        relation,
      });
    }
    models.push(model);
  }
  return { models, enums };
}

/** The PostgreSQL base types a field may be stored as. */
function expectedTypes(field: Field, enums: Map<string, string>): string[] {
  const unsupported = /^Unsupported\("([^"]*)"\)$/.exec(field.type);
  if (unsupported) return [unsupported[1]!.replace(/\(.*\)$/, '').toLowerCase()];
  if (enums.has(field.type)) return [enums.get(field.type)!];
  const native = field.native?.toLowerCase();
  const byNative: Record<string, string> = {
    uuid: 'uuid', text: 'text', varchar: 'character varying', char: 'character', citext: 'citext', inet: 'inet', xml: 'xml', bit: 'bit', varbit: 'bit varying',
    integer: 'integer', smallint: 'smallint', oid: 'oid', bigint: 'bigint',
    timestamptz: 'timestamp with time zone', timestamp: 'timestamp without time zone', date: 'date', time: 'time without time zone', timetz: 'time with time zone',
    bytea: 'bytea', json: 'json', jsonb: 'jsonb', doubleprecision: 'double precision', real: 'real', decimal: 'numeric', money: 'money', boolean: 'boolean',
  };
  if (native) return [byNative[native] ?? native];
  const byType: Record<string, string> = {
    String: 'text', Int: 'integer', BigInt: 'bigint', Boolean: 'boolean', DateTime: 'timestamp without time zone',
    Bytes: 'bytea', Json: 'jsonb', Float: 'double precision', Decimal: 'numeric',
  };
  return byType[field.type] ? [byType[field.type]!] : [];
}

interface Column {
  table: string;
  column: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  identity: boolean;
  generated: boolean;
}

t.test('prisma/schema.prisma matches a freshly migrated database', async (t) => {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  t.teardown(async () => {
    await client.end();
    await database.drop();
  });

  const { models, enums } = parseSchema(await readFile(SCHEMA_FILE, 'utf8'));
  t.ok(models.length >= 6, `the schema has models (${models.length})`);

  const { rows: columns } = await client.query<Column>(
    `SELECT c.relname AS table, a.attname AS column,
            format_type(a.atttypid, NULL) AS type, a.attnotnull AS "notNull",
            a.atthasdef AS "hasDefault", a.attidentity <> '' AS identity, a.attgenerated <> '' AS generated
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [SCHEMA],
  );
  const { rows: keys } = await client.query<{ table: string; primary: boolean; columns: string[] }>(
    `SELECT c.relname AS table, i.indisprimary AS primary,
            array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL`,
    [SCHEMA],
  );

  const tables = new Map<string, Map<string, Column>>();
  for (const column of columns) {
    if (IGNORED_TABLES.has(column.table)) continue;
    if (!tables.has(column.table)) tables.set(column.table, new Map());
    tables.get(column.table)!.set(column.column, column);
  }
  const problems: string[] = [];
  const modelTables = new Set<string>();

  for (const model of models) {
    modelTables.add(model.table);
    const table = tables.get(model.table);
    if (!table) {
      problems.push(`model ${model.name}: table "${model.table}" does not exist in the migrated database`);
      continue;
    }
    const scalarFields = model.fields.filter((f) => !f.relation);
    const fieldColumns = new Set(scalarFields.map((f) => f.column));
    for (const field of scalarFields) {
      const where = `${model.table}.${field.column} (${model.name}.${field.name})`;
      const column = table.get(field.column);
      if (!column) {
        problems.push(`${where}: the column does not exist`);
        continue;
      }
      const expected = expectedTypes(field, enums).map((type) => (field.list ? `${type}[]` : type));
      if (!expected.includes(column.type)) {
        problems.push(`${where}: column type is ${column.type}, the schema says ${field.type}${field.list ? '[]' : ''}${field.native ? ` @db.${field.native}` : ''} (${expected.join(' or ') || 'unknown'})`);
      }
      // Prisma cannot mark a list optional or required: either is accepted for lists.
      if (!field.list && field.optional === column.notNull) {
        problems.push(`${where}: the column is ${column.notNull ? 'NOT NULL' : 'nullable'} but the field is ${field.optional ? 'optional' : 'required'}`);
      }
      const columnDefault = column.hasDefault || column.identity;
      if (!column.generated && field.hasDefault !== columnDefault) {
        problems.push(`${where}: the column ${columnDefault ? 'has' : 'has no'} default but the field ${field.hasDefault ? 'has' : 'has no'} @default`);
      }
    }
    for (const name of table.keys()) {
      if (!fieldColumns.has(name)) problems.push(`${model.table}.${name}: the column has no field in model ${model.name}`);
    }

    const columnOf = (fieldName: string) => model.fields.find((f) => f.name === fieldName)?.column ?? `?${fieldName}`;
    const sameColumns = (a: string[], b: string[]) => a.length === b.length && a.every((c) => b.includes(c));
    const tableKeys = keys.filter((k) => k.table === model.table);
    const schemaPrimary = [...model.fields.filter((f) => f.id).map((f) => [f.column]), ...model.compositeIds.map((ids) => ids.map(columnOf))];
    const dbPrimary = tableKeys.filter((k) => k.primary).map((k) => k.columns);
    if (schemaPrimary.length !== dbPrimary.length || !schemaPrimary.every((p) => dbPrimary.some((d) => sameColumns(p, d)))) {
      problems.push(`${model.table}: primary key is (${dbPrimary.map((c) => c.join(', ')).join('; ') || 'none'}) but the schema says (${schemaPrimary.map((c) => c.join(', ')).join('; ') || 'none'})`);
    }
    const schemaUniques = [...model.fields.filter((f) => f.unique).map((f) => [f.column]), ...model.compositeUniques.map((u) => u.map(columnOf))];
    const dbUniques = tableKeys.filter((k) => !k.primary).map((k) => k.columns);
    for (const unique of schemaUniques) {
      if (!dbUniques.some((d) => sameColumns(unique, d))) problems.push(`${model.table}: the schema declares unique (${unique.join(', ')}) but the database has no such unique index`);
    }
    for (const unique of dbUniques) {
      if (!schemaUniques.some((s) => sameColumns(unique, s))) problems.push(`${model.table}: the database has a unique index on (${unique.join(', ')}) that the schema does not declare (@unique / @@unique)`);
    }
  }
  for (const table of tables.keys()) {
    if (!modelTables.has(table)) problems.push(`table "${table}" has no model in prisma/schema.prisma`);
  }

  t.same(problems, [], problems.length ? `the Prisma schema and the migrations disagree:\n  ${problems.join('\n  ')}` : 'schema and database agree');
});

t.test('the schema parser reads what it must', async (t) => {
  const { models, enums } = parseSchema(`
    enum Colour {
      red
      green
      @@map("colour")
    }
    model A {
      id    String  @id @default(dbgenerated("gen_random_uuid()")) @db.Uuid // a comment
      tags  String[] @default([]) @map("the_tags")
      bs    B[]
      note  String? @unique
      kind  Colour
      @@unique([id, note(sort: Desc)], map: "x")
      @@map("as")
    }
    model B {
      aId String @map("a_id") @db.Uuid
      n   Int
      a   A @relation(fields: [aId], references: [id])
      @@id([aId, n])
    }`);
  t.equal(enums.get('Colour'), 'colour');
  const [a, b] = models;
  t.equal(a!.table, 'as');
  t.same(a!.fields.map((f) => [f.name, f.column, f.list, f.optional, f.relation]), [
    ['id', 'id', false, false, false],
    ['tags', 'the_tags', true, false, false],
    ['bs', 'bs', true, false, true],
    ['note', 'note', false, true, false],
    ['kind', 'kind', false, false, false],
  ]);
  t.same(a!.compositeUniques, [['id', 'note']]);
  t.same(b!.compositeIds, [['aId', 'n']]);
  t.equal(a!.fields[0]!.native, 'Uuid');
  t.ok(a!.fields[0]!.id && a!.fields[3]!.unique && a!.fields[1]!.hasDefault);
});
