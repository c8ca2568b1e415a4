// Custody appends in two steps, after Trillian's queue and sequencer:
//
// 1. appendCustodyEntry(tx, …) queues the event inside the caller's transaction (so it is recorded
//    with the change it records, or not at all). It takes no lock: writers of one case commit in
//    parallel and share WAL flushes (group commit), instead of one commit at a time.
// 2. integrateCustodyQueue(db, caseId) is the sequencer: under the case's custody_logs row lock
//    (the per-case serialisation across every instance) it gives the pending events their `seq`,
//    many per transaction, and stores entries, leaf hashes and the new tree state together.
//
// Every read of the log integrates first, so a reader sees every committed event; an event left
// queued (a crash between the two steps) is integrated by the next reader or writer.
import { Buffer } from 'node:buffer';
import type { Database, Transaction } from '../../database/client.ts';
import { Prisma } from '../../generated/prisma/client.ts';
import {
  EMPTY_TREE,
  appendLeaf,
  assertCustodyEntry,
  canonicalize,
  entryLeafHash,
  leafHash,
  rootOfState,
  treeStateFromJson,
  treeStateToJson,
  type CustodyEntry,
  type JsonObject,
} from '../../custody/index.ts';
import { findLogState, type LogState } from './custody.repository.ts';

export const SYSTEM_CUSTODY_ACTIONS = ['collected', 'accessed', 'reviewed', 'metadata_changed', 'retracted', 'exported'] as const;
export const MANUAL_CUSTODY_ACTIONS = ['transferred', 'analysed', 'copied', 'sealed', 'note'] as const;
export type ManualCustodyAction = (typeof MANUAL_CUSTODY_ACTIONS)[number];
export type CustodyAction = (typeof SYSTEM_CUSTODY_ACTIONS)[number] | ManualCustodyAction;

export interface AppendedEntry {
  seq: number;
  leafHash: string;
  entry: CustodyEntry;
}

export interface QueuedEntry {
  /** custody_queue.id; custody_entries.queue_id once integrated. */
  queueId: number;
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

/** Most queued events given a seq in one transaction. */
export const INTEGRATION_BATCH = 5000;
const INTEGRATION_TRANSACTION = { maxWait: 30_000, timeout: 60_000 };

/**
 * Queues a custody event in the caller's transaction. The event is checked completely here (it
 * must name an item of the case with that hash, and make a valid entry): an event that could not
 * be integrated later would stop the case's log.
 */
export async function appendCustodyEntry(tx: Transaction, input: NewCustodyEntry): Promise<QueuedEntry> {
  const at = (input.at ?? new Date()).toISOString();
  const details = input.details ?? {};
  // Throws a CustodyEntryError (or CanonicalJsonError) for an entry that cannot be encoded.
  entryLeafHash({
    v: 1,
    caseId: input.caseId,
    seq: 0,
    evidenceId: input.evidenceId,
    evidenceSha256: input.evidenceSha256,
    action: input.action,
    actorId: input.actorId,
    at,
    details,
  });
  const [queued] = await tx.$queryRaw<{ id: bigint }[]>`
    INSERT INTO custody_queue (case_id, evidence_id, evidence_sha256, action, actor_id, at, details)
    SELECT e.case_id, e.id, e.sha256, ${input.action}, ${input.actorId}::uuid, ${at}::timestamptz, ${canonicalize(details)}
      FROM evidence e
     WHERE e.id = ${input.evidenceId}::uuid AND e.case_id = ${input.caseId}::uuid AND e.sha256 = ${input.evidenceSha256}
    RETURNING id`;
  if (!queued) throw new CustodyAppendError('custody entry names no evidence item of this case with this hash');
  return { queueId: Number(queued.id) };
}

type LockedLog = { size: bigint; frontier: unknown };

async function lockLog(tx: Transaction, caseId: string): Promise<LockedLog> {
  const [log] = await tx.$queryRaw<LockedLog[]>`
    SELECT size, frontier FROM custody_logs WHERE case_id = ${caseId}::uuid FOR UPDATE`;
  if (log) return log;
  // The case's first entry: create its log (a no-op if a concurrent integration just did), then lock it.
  await tx.$executeRaw`
    INSERT INTO custody_logs (case_id, size, frontier, root_hash)
    VALUES (${caseId}::uuid, 0, '[]'::jsonb, ${new Uint8Array(rootOfState(EMPTY_TREE))})
    ON CONFLICT (case_id) DO NOTHING`;
  const [created] = await tx.$queryRaw<LockedLog[]>`
    SELECT size, frontier FROM custody_logs WHERE case_id = ${caseId}::uuid FOR UPDATE`;
  return created!;
}

type QueueRow = {
  id: bigint;
  evidence_id: string;
  evidence_sha256: string;
  action: string;
  actor_id: string | null;
  at: Date;
  details: string;
};

/** The newest committed queue id of the case, or null when nothing is queued. */
async function newestQueued(db: Database, caseId: string): Promise<bigint | null> {
  const [row] = await db.$queryRaw<{ id: bigint | null }[]>`SELECT max(id) AS id FROM custody_queue WHERE case_id = ${caseId}::uuid`;
  return row?.id ?? null;
}

async function pendingUpTo(db: Database, caseId: string, id: bigint): Promise<boolean> {
  const rows = await db.$queryRaw<unknown[]>`SELECT 1 FROM custody_queue WHERE case_id = ${caseId}::uuid AND id <= ${id} LIMIT 1`;
  return rows.length > 0;
}

// The integrator of a case also holds this advisory lock, so that the others wait for it to
// finish all at once (a shared lock, no transaction id, no WAL) instead of queueing one by one on
// the custody_logs row lock.
const integratorLock = (caseId: string) => Prisma.sql`hashtextextended(${'custodia:custody:' + caseId}, 0)`;

async function waitForIntegrator(db: Database, caseId: string): Promise<void> {
  await db.$executeRaw`SELECT pg_advisory_xact_lock_shared(${integratorLock(caseId)})`;
}

// Thrown to roll back an integration that did not take place: committing a transaction that
// locked a row costs a WAL flush for nothing.
const NOTHING_PENDING = Symbol('nothing pending');
const BUSY = Symbol('another integrator is at work');

/** Integrates one batch; null when another integrator holds the case's log. */
async function integrateBatch(db: Database, caseId: string): Promise<number | null> {
  try {
    return await db.$transaction(async (tx) => {
      const [lock] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(${integratorLock(caseId)}) AS locked`;
      if (!lock?.locked) throw BUSY;
      const log = await lockLog(tx, caseId);
      // A new statement after the lock: its snapshot sees what the previous holder committed.
      const rows = await tx.$queryRaw<QueueRow[]>`
        SELECT id, evidence_id::text, evidence_sha256, action, actor_id::text, at, details
          FROM custody_queue WHERE case_id = ${caseId}::uuid ORDER BY id LIMIT ${INTEGRATION_BATCH}`;
      if (rows.length === 0) throw NOTHING_PENDING;

      const before = treeStateFromJson({ size: Number(log.size), frontier: log.frontier });
      let state = before;
      const seqs: number[] = [];
      const texts: string[] = [];
      const leaves: string[] = [];
      for (const row of rows) {
        const entry: CustodyEntry = {
          v: 1,
          caseId,
          seq: state.size,
          evidenceId: row.evidence_id,
          evidenceSha256: row.evidence_sha256,
          action: row.action,
          actorId: row.actor_id,
          at: row.at.toISOString(),
          details: JSON.parse(row.details) as JsonObject,
        };
        assertCustodyEntry(entry);
        const text = canonicalize(entry);
        const leaf = leafHash(Buffer.from(text, 'utf8'));
        seqs.push(entry.seq);
        texts.push(text);
        leaves.push(leaf.toString('hex'));
        state = appendLeaf(state, leaf);
      }

      // One statement: the entries, the queue rows they came from gone, and the tree state moved
      // from `before.size` to `state.size` (only if every queued row was there to delete).
      const updated = await tx.$executeRaw`
        WITH inserted AS (
          INSERT INTO custody_entries (case_id, seq, evidence_id, action, actor_id, at, entry, leaf_hash, queue_id)
          SELECT ${caseId}::uuid, u.seq, u.evidence_id, u.action, u.actor_id, u.at, u.entry, decode(u.leaf, 'hex'), u.queue_id
            FROM unnest(${seqs}::bigint[], ${rows.map((r) => r.evidence_id)}::uuid[], ${rows.map((r) => r.action)}::text[],
                        ${rows.map((r) => r.actor_id)}::uuid[], ${rows.map((r) => r.at.toISOString())}::timestamptz[],
                        ${texts}::text[], ${leaves}::text[], ${rows.map((r) => r.id.toString())}::bigint[])
                 AS u(seq, evidence_id, action, actor_id, at, entry, leaf, queue_id)
          RETURNING queue_id
        ), dequeued AS (
          DELETE FROM custody_queue WHERE id IN (SELECT queue_id FROM inserted) RETURNING id
        )
        UPDATE custody_logs
           SET size = ${state.size}, frontier = ${JSON.stringify(treeStateToJson(state).frontier)}::jsonb,
               root_hash = ${new Uint8Array(rootOfState(state))}, updated_at = now()
         WHERE case_id = ${caseId}::uuid AND size = ${before.size}
           AND (SELECT count(*) FROM dequeued) = ${rows.length}`;
      if (updated !== 1) throw new Error('custody integration: the log or its queue changed under the lock');
      return rows.length;
    }, INTEGRATION_TRANSACTION);
  } catch (error) {
    if (error === NOTHING_PENDING) return 0;
    if (error === BUSY) return null;
    throw error;
  }
}

/**
 * Gives every event queued for the case (and committed) before the call its seq; answers how
 * many this call integrated (events integrated by a concurrent call are not counted).
 */
export async function integrateCustodyQueue(db: Database, caseId: string): Promise<number> {
  // Without a lock: keeps reads of a quiet log cheap, and bounds the work to what was committed
  // before this call (others may keep queueing meanwhile).
  const newest = await newestQueued(db, caseId);
  if (newest === null) return 0;
  let total = 0;
  for (;;) {
    const integrated = await integrateBatch(db, caseId);
    if (integrated === null) {
      await waitForIntegrator(db, caseId);
    } else {
      total += integrated;
      // A short batch took every row committed before its lock, so every row this call must see.
      if (integrated < INTEGRATION_BATCH) return total;
    }
    if (!(await pendingUpTo(db, caseId, newest))) return total;
  }
}

/** The case's log state once every committed event is integrated (for exports and readers). */
export async function integratedLog(db: Database, caseId: string): Promise<LogState> {
  await integrateCustodyQueue(db, caseId);
  return (await findLogState(db, caseId)) ?? { size: 0, rootHash: rootOfState(EMPTY_TREE) };
}

interface Logger {
  warn(obj: object, msg?: string): void;
}

/**
 * For services, once the transaction that queued custody events has committed: integrates them
 * now, so the log shows them at once. Never throws: the events are safe in the queue and the next
 * reader integrates them if this fails.
 */
export async function afterCommitIntegrate(db: Database, caseId: string, log?: Logger): Promise<void> {
  try {
    await integrateCustodyQueue(db, caseId);
  } catch (error) {
    // The error's name only: a database error's text may quote the row.
    log?.warn({ caseId, error: (error as Error)?.name }, 'custody queue integration failed; the next read of the log retries it');
  }
}

/** The entry a queued event became, integrating the case's queue first. */
export async function integratedEntry(db: Database, caseId: string, queued: QueuedEntry): Promise<AppendedEntry> {
  await integrateCustodyQueue(db, caseId);
  const [row] = await db.$queryRaw<{ seq: bigint; entry: string; leaf_hash: Uint8Array }[]>`
    SELECT seq, entry, leaf_hash FROM custody_entries WHERE queue_id = ${queued.queueId}`;
  if (!row) throw new Error(`custody: queued event ${queued.queueId} was not integrated`);
  return { seq: Number(row.seq), leafHash: Buffer.from(row.leaf_hash).toString('hex'), entry: JSON.parse(row.entry) as CustodyEntry };
}
