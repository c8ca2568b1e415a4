// Witnesses and their sealed identities in PostgreSQL.
import type { Db } from '../../database/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';

const withIdentityFlag = { identity: { select: { witnessId: true } } } as const;

export type WitnessRow = Prisma.WitnessGetPayload<{ include: typeof withIdentityFlag }>;

export function findWitness(db: Db, id: string): Promise<WitnessRow | null> {
  return db.witness.findUnique({ where: { id }, include: withIdentityFlag });
}

/** Newest first (the highest number), keyed by the number, which never repeats in a case. */
export function listWitnesses(db: Db, caseId: string, limit: number, belowNumber: number | null): Promise<WitnessRow[]> {
  return db.witness.findMany({
    where: { caseId, ...(belowNumber !== null ? { number: { lt: belowNumber } } : {}) },
    orderBy: { number: 'desc' },
    take: limit + 1,
    include: withIdentityFlag,
  });
}

/**
 * The case's next witness number. The counter row stays locked until the caller's transaction
 * ends: concurrent creations (from any instance) wait, and a rollback gives the number back.
 */
export async function takeWitnessNumber(tx: Db, caseId: string): Promise<number> {
  const [row] = await tx.$queryRaw<{ last_number: number }[]>`
    INSERT INTO witness_counters (case_id, last_number) VALUES (${caseId}::uuid, 1)
    ON CONFLICT (case_id) DO UPDATE SET last_number = witness_counters.last_number + 1
    RETURNING last_number`;
  return row!.last_number;
}

export function witnessCode(number: number): string {
  return `W-${String(number).padStart(4, '0')}`;
}

export function insertWitness(tx: Db, data: Prisma.WitnessUncheckedCreateInput): Promise<WitnessRow> {
  return tx.witness.create({ data, include: withIdentityFlag });
}

export async function updateWitness(tx: Db, id: string, version: number, data: Prisma.WitnessUncheckedUpdateManyInput): Promise<WitnessRow | null> {
  const { count } = await tx.witness.updateMany({ where: { id, version }, data: { ...data, version: { increment: 1 }, updatedAt: new Date() } });
  return count === 0 ? null : tx.witness.findUniqueOrThrow({ where: { id }, include: withIdentityFlag });
}

export function findSealedIdentity(db: Db, witnessId: string) {
  return db.witnessIdentity.findUnique({ where: { witnessId } });
}

export function saveSealedIdentity(tx: Db, witnessId: string, sealed: { ciphertext: Buffer; wrappedKey: Buffer; masterKeyId: string }, userId: string) {
  const columns = {
    ciphertext: new Uint8Array(sealed.ciphertext),
    wrappedKey: new Uint8Array(sealed.wrappedKey),
    masterKeyId: sealed.masterKeyId,
    updatedBy: userId,
  };
  return tx.witnessIdentity.upsert({
    where: { witnessId },
    create: { witnessId, ...columns },
    update: { ...columns, updatedAt: new Date() },
  });
}

/** Deletes the ciphertext and the wrapped key together; answers whether there was one. */
export async function deleteSealedIdentity(tx: Db, witnessId: string): Promise<boolean> {
  const { count } = await tx.witnessIdentity.deleteMany({ where: { witnessId } });
  return count > 0;
}
