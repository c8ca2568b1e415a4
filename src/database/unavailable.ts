// Whether an error means the database cannot serve right now (stopped, restarting, unreachable,
// out of connections or of disk), as opposed to a query it refused. The first is a 503 a client
// may retry and an operator must hear about; the second is a bug or a conflict.
// Errors arrive from Prisma (with the driver adapter's reading of the cause in `meta`) and, from
// pg-boss, straight from node-postgres.

/** Prisma: cannot reach, timed out, connection closed, pool timeout, too many connections. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2037']);
/** @prisma/adapter-pg's kinds for socket errors and SQLSTATE 53300. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** SQLSTATE: connection exception (08…), insufficient resources (53…), the server shutting down or starting (57P01-57P03). */
const SQLSTATE = /^(08|53)...$|^57P0[123]$/;
/** Socket errors while connecting (node-postgres reports them raw). */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

interface ErrorFields {
  name?: unknown;
  code?: unknown;
  originalCode?: unknown;
  severity?: unknown;
  kind?: unknown;
  syscall?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: unknown } };
}

function saysUnavailable(error: ErrorFields): boolean {
  if (error.name === 'PrismaClientInitializationError') return true;
  if (typeof error.code === 'string' && PRISMA_CODES.has(error.code)) return true;
  if (typeof error.kind === 'string' && ADAPTER_KINDS.has(error.kind)) return true;
  // A FATAL or PANIC error ends the session: the connection is gone, whatever its SQLSTATE.
  if (error.severity === 'FATAL' || error.severity === 'PANIC') return true;
  const sqlState = error.originalCode ?? (typeof error.severity === 'string' ? error.code : undefined);
  if (typeof sqlState === 'string' && SQLSTATE.test(sqlState)) return true;
  return typeof error.code === 'string' && CONNECT_ERRORS.has(error.code) && (error.syscall === 'connect' || error.syscall === 'getaddrinfo');
}

export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const fields = current as ErrorFields;
    if (saysUnavailable(fields)) return true;
    current = fields.meta?.driverAdapterError?.cause ?? fields.cause;
  }
  return false;
}
