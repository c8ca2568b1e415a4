import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, type Prisma } from '../generated/prisma/client.ts';

export type Database = PrismaClient;
/** The client inside `$transaction(async (tx) => …)`. */
export type Transaction = Prisma.TransactionClient;
/** Either: repositories accept both so a service decides where the transaction boundary is. */
export type Db = Database | Transaction;

const pools = new WeakMap<Database, pg.Pool>();

/**
 * Set on each of the service's connections. PostgreSQL's default random_page_cost (4) models a
 * spinning disk; with case records in memory or on SSD it made the planner read every incident in
 * parallel rather than use the full-text index (80 ms instead of 20 for a common word over 100,000
 * incidents). Per session, so the operator's other databases keep their settings; a plain SET, so
 * it also passes through connection poolers.
 */
export const SESSION_SETTINGS = 'SET random_page_cost = 1.1';

/** A Prisma client on a node-postgres pool of `poolSize` connections; $disconnect ends the pool. */
export function createDatabaseClient(databaseUrl: string, poolSize = 10): Database {
  // onConnect is awaited before the pool hands a new connection out.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, onConnect: (client) => client.query(SESSION_SETTINGS) });
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(client, pool);
  return client;
}

/**
 * The node-postgres pool under a client, shared with Prisma. Only for the hot paths where
 * Prisma's cost per query (about 1 ms of CPU, three times a plain query) is the bottleneck:
 * the custody sequencer, and the reads every request makes (see hotPath).
 */
export function sqlPool(db: Database): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('sqlPool: this client was not made by createDatabaseClient');
  return pool;
}

/** Where one SQL statement can run: Prisma (client or transaction) or node-postgres (pool or client). */
export type SqlRunner = Db | pg.Pool | pg.PoolClient;

/**
 * Runs one parameterised statement ($1, $2…) on either kind of runner. Column types come back as
 * each driver gives them (a bigint is a BigInt from Prisma, a string from node-postgres): callers
 * convert with Number() or String().
 */
export async function runSql<Row>(runner: SqlRunner, text: string, values: unknown[], preparedName?: string): Promise<Row[]> {
  if ('$queryRawUnsafe' in runner) return runner.$queryRawUnsafe<Row[]>(text, ...values);
  // A named statement is parsed and planned once per connection, then only bound and executed.
  const query = preparedName ? { name: preparedName, text, values } : { text, values };
  return (await runner.query(query)).rows as Row[];
}

/**
 * Where a hot read should run: on the pool under `db` when it is a client (no Prisma cost), in
 * the transaction itself when it is one.
 */
export function hotPath(db: Db): SqlRunner {
  return pools.get(db as Database) ?? db;
}
