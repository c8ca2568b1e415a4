// Appends an entry to a case's custody log, inside the caller's transaction (so the entry lands
// with the change it records, or not at all). The case's custody_logs row is locked FOR UPDATE:
// that serialises appends per case across every service instance and keeps `seq` gapless.
//
// While the lock is held there are two statements (the lock, then one statement that writes the
// entry and the new tree state) and the commit: the lock is what limits a case's append rate.
import type { Transaction } from '../../database/client.ts';
import {
  EMPTY_TREE,
  appendLeaf,
  canonicalize,
  entryLeafHash,
  rootOfState,
  treeStateFromJson,
  treeStateToJson,
  type CustodyEntry,
  type JsonObject,
} from '../../custody/index.ts';

export const SYSTEM_CUSTODY_ACTIONS = ['collected', 'accessed', 'reviewed', 'metadata_changed', 'retracted', 'exported'] as const;
export const MANUAL_CUSTODY_ACTIONS = ['transferred', 'analysed', 'copied', 'sealed', 'note'] as const;
export type ManualCustodyAction = (typeof MANUAL_CUSTODY_ACTIONS)[number];
export type CustodyAction = (typeof SYSTEM_CUSTODY_ACTIONS)[number] | ManualCustodyAction;

export interface AppendedEntry {
  seq: number;
  leafHash: string;
  entry: CustodyEntry;
}

export interface NewCustodyEntry {
  caseId: string;
  evidenceId: string;
  evidenceSha256: string;
  action: CustodyAction;
  actorId: string | null;
  details?: JsonObject;
  at?: Date;
}

/** Thrown when the entry does not name an evidence item of the case with that hash. */
export class CustodyAppendError extends Error {
  override name = 'CustodyAppendError';
}

type LockedLog = { size: bigint; frontier: unknown };

async function lockLog(tx: Transaction, caseId: string): Promise<LockedLog> {
  const [log] = await tx.$queryRaw<LockedLog[]>`
    SELECT size, frontier FROM custody_logs WHERE case_id = ${caseId}::uuid FOR UPDATE`;
  if (log) return log;
  // The case's first entry: create its log (a no-op if a concurrent append just did), then lock it.
  await tx.$executeRaw`
    INSERT INTO custody_logs (case_id, size, frontier, root_hash)
    VALUES (${caseId}::uuid, 0, '[]'::jsonb, ${new Uint8Array(rootOfState(EMPTY_TREE))})
    ON CONFLICT (case_id) DO NOTHING`;
  const [created] = await tx.$queryRaw<LockedLog[]>`
    SELECT size, frontier FROM custody_logs WHERE case_id = ${caseId}::uuid FOR UPDATE`;
  return created!;
}

export async function appendCustodyEntry(tx: Transaction, input: NewCustodyEntry): Promise<AppendedEntry> {
  const log = await lockLog(tx, input.caseId);
  const state = treeStateFromJson({ size: Number(log.size), frontier: log.frontier });

  const entry: CustodyEntry = {
    v: 1,
    caseId: input.caseId,
    seq: state.size,
    evidenceId: input.evidenceId,
    evidenceSha256: input.evidenceSha256,
    action: input.action,
    actorId: input.actorId,
    // Taken once the lock is held, so that `at` follows `seq` within one instance's clock.
    at: (input.at ?? new Date()).toISOString(),
    details: input.details ?? {},
  };
  const leaf = entryLeafHash(entry);
  const next = appendLeaf(state, leaf);

  // One statement: the entry is inserted only if the evidence belongs to the case and has that
  // hash, and the tree state moves from `seq` to `seq + 1` only if the entry was inserted.
  const updated = await tx.$executeRaw`
    WITH inserted AS (
      INSERT INTO custody_entries (case_id, seq, evidence_id, action, actor_id, at, entry, leaf_hash)
      SELECT ${entry.caseId}::uuid, ${entry.seq}, e.id, ${entry.action}, ${entry.actorId}::uuid,
             ${entry.at}::timestamptz, ${canonicalize(entry)}, ${new Uint8Array(leaf)}
        FROM evidence e
       WHERE e.id = ${entry.evidenceId}::uuid AND e.case_id = ${entry.caseId}::uuid AND e.sha256 = ${entry.evidenceSha256}
      RETURNING seq
    )
    UPDATE custody_logs
       SET size = ${next.size}, frontier = ${JSON.stringify(treeStateToJson(next).frontier)}::jsonb,
           root_hash = ${new Uint8Array(rootOfState(next))}, updated_at = now()
     WHERE case_id = ${input.caseId}::uuid AND size = ${entry.seq} AND EXISTS (SELECT 1 FROM inserted)`;
  if (updated !== 1) throw new CustodyAppendError('custody entry names no evidence item of this case with this hash');
  return { seq: entry.seq, leafHash: leaf.toString('hex'), entry };
}
