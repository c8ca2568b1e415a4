// Which errors are a database outage (503, retry later) and which are a refused query (not).
import t from 'tap';
import { isDatabaseUnavailable } from '../../src/database/unavailable.ts';

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
