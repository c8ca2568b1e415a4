import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient, type Prisma } from '../generated/prisma/client.ts';

export type Database = PrismaClient;
/** The client inside `$transaction(async (tx) => …)`. */
export type Transaction = Prisma.TransactionClient;
/** Either: repositories accept both so a service decides where the transaction boundary is. */
export type Db = Database | Transaction;

export function createDatabaseClient(databaseUrl: string, poolSize = 10): Database {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  return new PrismaClient({ adapter });
}
