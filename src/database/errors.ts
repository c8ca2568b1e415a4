// What a database error means. Whether the database cannot serve right now (stopped, restarting,
// unreachable, out of connections or of disk), as opposed to a query it refused: the first is a
// 503 a client may retry and an operator must hear about; the second is a bug or a conflict. And
// whether it refused a duplicate of a unique value (a 409).
// Errors arrive from Prisma (with the driver adapter's reading of the cause in `meta`) and, from
// pg-boss and the hot paths, straight from node-postgres.

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

/** Whether `says` holds for the error or one of its causes (the adapter's, or `cause`). */
function anyCause(error: unknown, says: (fields: ErrorFields) => boolean): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const fields = current as ErrorFields;
    if (says(fields)) return true;
    current = fields.meta?.driverAdapterError?.cause ?? fields.cause;
  }
  return false;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  return anyCause(error, saysUnavailable);
}

/**
 * SQLSTATE 23505: Prisma's P2002 from a model query, the adapter's `originalCode` under a raw
 * query's P2010, or node-postgres's own error.
 */
export function isUniqueViolation(error: unknown): boolean {
  return anyCause(error, (fields) => fields.code === 'P2002' || fields.originalCode === '23505' || (fields.code === '23505' && typeof fields.severity === 'string'));
}
