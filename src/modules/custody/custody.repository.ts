// Reads of the custody log, its checkpoints and the signing keys. Appends are in custody.append.ts.
import { Buffer } from 'node:buffer';
import type { Db } from '../../database/client.ts';

export interface EntryRow {
  seq: number;
  entry: string;
  leafHash: Buffer;
}

export interface LogState {
  size: number;
  rootHash: Buffer;
}

export interface CheckpointRow {
  size: number;
  rootHash: Buffer;
  note: string;
  keyId: string;
}

export interface SigningKeyRow {
  keyId: string;
  name: string;
  publicKeyPem: string;
  status: string;
  createdAt: Date;
}

type RawEntry = { seq: bigint; entry: string; leaf_hash: Uint8Array };
const toEntry = (row: RawEntry): EntryRow => ({ seq: Number(row.seq), entry: row.entry, leafHash: Buffer.from(row.leaf_hash) });

export async function findEvidenceForCustody(db: Db, evidenceId: string): Promise<{ id: string; caseId: string; sha256: string } | null> {
  return db.evidence.findUnique({ where: { id: evidenceId }, select: { id: true, caseId: true, sha256: true } });
}

/** Entries of a case (or of one of its items) after `afterSeq`, oldest first. */
export async function listEntries(
  db: Db,
  where: { caseId: string } | { evidenceId: string },
  afterSeq: number,
  limit: number,
): Promise<EntryRow[]> {
  const rows =
    'caseId' in where
      ? await db.$queryRaw<RawEntry[]>`
          SELECT seq, entry, leaf_hash FROM custody_entries
           WHERE case_id = ${where.caseId}::uuid AND seq > ${afterSeq}
           ORDER BY seq LIMIT ${limit}`
      : await db.$queryRaw<RawEntry[]>`
          SELECT seq, entry, leaf_hash FROM custody_entries
           WHERE evidence_id = ${where.evidenceId}::uuid AND seq > ${afterSeq}
           ORDER BY seq LIMIT ${limit}`;
  return rows.map(toEntry);
}

/** Entries with seq in [fromSeq, toSeq), oldest first. */
export async function entriesBetween(db: Db, caseId: string, fromSeq: number, toSeq: number): Promise<EntryRow[]> {
  const rows = await db.$queryRaw<RawEntry[]>`
    SELECT seq, entry, leaf_hash FROM custody_entries
     WHERE case_id = ${caseId}::uuid AND seq >= ${fromSeq} AND seq < ${toSeq}
     ORDER BY seq`;
  return rows.map(toEntry);
}

export async function findLogState(db: Db, caseId: string): Promise<LogState | null> {
  const [row] = await db.$queryRaw<{ size: bigint; root_hash: Uint8Array }[]>`
    SELECT size, root_hash FROM custody_logs WHERE case_id = ${caseId}::uuid`;
  return row ? { size: Number(row.size), rootHash: Buffer.from(row.root_hash) } : null;
}

/**
 * The leaf hashes of entries 0..size-1, in seq order, as one array. They travel as a single
 * concatenated bytea (32 bytes each: 3.2 MB for 100k entries) rather than one row per entry.
 * A missing entry (a gap) makes the answer shorter than `size`.
 */
export async function leafHashes(db: Db, caseId: string, size: number): Promise<Buffer[]> {
  const [row] = await db.$queryRaw<{ leaves: Uint8Array | null }[]>`
    SELECT string_agg(leaf_hash, ''::bytea ORDER BY seq) AS leaves
      FROM custody_entries WHERE case_id = ${caseId}::uuid AND seq < ${size}`;
  const all = Buffer.from(row?.leaves ?? new Uint8Array(0));
  const hashes: Buffer[] = [];
  for (let at = 0; at + 32 <= all.length; at += 32) hashes.push(all.subarray(at, at + 32));
  return hashes;
}

type RawCheckpoint = { size: bigint; root_hash: Uint8Array; note: string; key_id: string };
const toCheckpoint = (row: RawCheckpoint): CheckpointRow => ({
  size: Number(row.size),
  rootHash: Buffer.from(row.root_hash),
  note: row.note,
  keyId: row.key_id,
});

export async function findCheckpoint(db: Db, caseId: string, size: number): Promise<CheckpointRow | null> {
  const [row] = await db.$queryRaw<RawCheckpoint[]>`
    SELECT size, root_hash, note, key_id FROM custody_checkpoints WHERE case_id = ${caseId}::uuid AND size = ${size}`;
  return row ? toCheckpoint(row) : null;
}

/** Stores a checkpoint unless one of that size exists; never replaces one. */
export async function insertCheckpoint(db: Db, caseId: string, checkpoint: CheckpointRow): Promise<void> {
  await db.$executeRaw`
    INSERT INTO custody_checkpoints (case_id, size, root_hash, note, key_id)
    VALUES (${caseId}::uuid, ${checkpoint.size}, ${new Uint8Array(checkpoint.rootHash)}, ${checkpoint.note}, ${checkpoint.keyId})
    ON CONFLICT (case_id, size) DO NOTHING`;
}

/** Every checkpoint of a case no larger than `maxSize`, smallest first. */
export async function checkpointsUpTo(db: Db, caseId: string, maxSize: number): Promise<CheckpointRow[]> {
  const rows = await db.$queryRaw<RawCheckpoint[]>`
    SELECT size, root_hash, note, key_id FROM custody_checkpoints
     WHERE case_id = ${caseId}::uuid AND size <= ${maxSize} ORDER BY size`;
  return rows.map(toCheckpoint);
}

export async function listSigningKeys(db: Db): Promise<SigningKeyRow[]> {
  return db.signingKey.findMany({
    select: { keyId: true, name: true, publicKeyPem: true, status: true, createdAt: true },
    orderBy: [{ createdAt: 'desc' }, { keyId: 'asc' }],
  });
}
