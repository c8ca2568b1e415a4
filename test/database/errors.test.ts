// Which errors are a database outage (503, retry later) and which are a refused query (not); which are a refused duplicate.
import t from 'tap';
import pg from 'pg';
import { createDatabaseClient } from '../../src/database/client.ts';
import { isDatabaseUnavailable, isUniqueViolation } from '../../src/database/errors.ts';
import { createTestDatabase } from '../helpers/database.ts';

const prisma = (code: string, cause?: object) => Object.assign(new Error('Invalid invocation'), { name: 'PrismaClientKnownRequestError', code, meta: cause ? { driverAdapterError: { name: 'DriverAdapterError', cause } } : {} });
const socket = (code: string, syscall: string) => Object.assign(new Error(`${syscall} ${code}`), { code, syscall, errno: -1 });
const pgError = (code: string, severity: string) => Object.assign(new Error('from the server'), { code, severity });

t.test('outages', async (t) => {
  const outages: [string, unknown][] = [
    ['Prisma cannot reach the server', prisma('P1001')],
    ['Prisma: the server closed the connection', prisma('P1017')],
    ['Prisma: no connection free in the pool', prisma('P2024')],
    ['Prisma failed to start', Object.assign(new Error('cannot start'), { name: 'PrismaClientInitializationError' })],
    ['adapter: not reachable', prisma('P2010', { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 })],
    ['adapter: connection closed', prisma('P2010', { kind: 'ConnectionClosed' })],
    ['adapter: too many connections', prisma('P2037', { kind: 'TooManyConnections' })],
    ['adapter: a FATAL error (database not accepting connections)', prisma('P2010', { kind: 'postgres', originalCode: '55000', severity: 'FATAL' })],
    ['adapter: the server shutting down', prisma('P2010', { kind: 'postgres', originalCode: '57P01', severity: 'FATAL' })],
    ['adapter: the server out of disk', prisma('P2010', { kind: 'postgres', originalCode: '53100', severity: 'ERROR' })],
    ['node-postgres: connection refused', socket('ECONNREFUSED', 'connect')],
    ['node-postgres: host unknown', socket('ENOTFOUND', 'getaddrinfo')],
    ['node-postgres: the server starting up', pgError('57P03', 'FATAL')],
    ['node-postgres: a connection exception', pgError('08006', 'ERROR')],
    ['wrapped in a cause', new Error('job failed', { cause: socket('ECONNREFUSED', 'connect') })],
  ];
  for (const [what, error] of outages) t.ok(isDatabaseUnavailable(error), what);
});

t.test('not outages', async (t) => {
  const refusals: [string, unknown][] = [
    ['a unique violation', prisma('P2002')],
    ['a trigger that raised', prisma('P2010', { kind: 'postgres', originalCode: 'P0001', severity: 'ERROR' })],
    ['a serialisation failure', prisma('P2034', { kind: 'TransactionWriteConflict' })],
    ['node-postgres: a syntax error', pgError('42601', 'ERROR')],
    ['a client that went away', socket('ECONNRESET', 'read')],
    ['a full disk', socket('ENOSPC', 'write')],
    ['a plain error', new Error('something else')],
    ['not an error at all', 'text'],
    ['nothing', null],
  ];
  for (const [what, error] of refusals) t.notOk(isDatabaseUnavailable(error), what);
});

/** The error `run` rejects with. */
async function refusal(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('the database accepted it');
}

t.test('a refused duplicate, as each client reports it, and nothing else', async (t) => {
  const database = await createTestDatabase();
  const db = createDatabaseClient(database.url, 2);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  t.teardown(async () => {
    await client.end();
    await db.$disconnect();
    await database.drop();
  });
  const user = { email: 'duplicate@example.org', displayName: 'D', role: 'member', passwordHash: 'x' };
  await db.user.create({ data: user });
  const insert = "INSERT INTO users (email, display_name, role, password_hash) VALUES ('duplicate@example.org', 'D', 'member', 'x')";
  const duplicates: [string, unknown][] = [
    ['Prisma, a model query (P2002)', await refusal(() => db.user.create({ data: user }))],
    ['Prisma, in a transaction', await refusal(() => db.$transaction((tx) => tx.user.create({ data: user })))],
    ['Prisma, a raw query (P2010, the adapter\'s SQLSTATE)', await refusal(() => db.$executeRawUnsafe(insert))],
    ['node-postgres', await refusal(() => client.query(insert))],
    ['wrapped in a cause', new Error('job failed', { cause: await refusal(() => client.query(insert)) })],
  ];
  for (const [what, error] of duplicates) {
    t.ok(isUniqueViolation(error), what);
    t.notOk(isDatabaseUnavailable(error), `${what}: not an outage`);
  }
  const others: [string, unknown][] = [
    ['a NOT NULL violation', await refusal(() => db.$executeRawUnsafe("INSERT INTO users (email, display_name, role, password_hash) VALUES (NULL, 'O', 'member', 'x')"))],
    ['an append-only table', await refusal(() => client.query('TRUNCATE audit_entries'))],
    ['a syntax error', await refusal(() => client.query('SELEC 1'))],
    ['an outage', prisma('P1001')],
    ['an error whose code merely reads 23505', Object.assign(new Error('not from a database'), { code: '23505' })],
    ['nothing', null],
  ];
  for (const [what, error] of others) t.notOk(isUniqueViolation(error), what);
});
