// Custody appends, after Trillian's queue and sequencer:
//
// 1. appendCustodyEntry(tx, …) queues an event inside the caller's transaction, so it is recorded
//    with the change it records (a review, an intake) or not at all. It takes no lock: writers of
//    one case commit in parallel and share WAL flushes.
// 2. appendCustodyEvent(db, …) is for an event that records no other change (an access, a manual
//    event): it goes straight to the sequencer, which writes it with its seq in its own batch.
// 3. The sequencer, one per case in each process, runs one batch at a time: under the case's
//    custody_logs row lock (the per-case serialisation across every instance) it gives the queued
//    events and the direct ones their `seq`, and stores entries, leaf hashes and the new tree
//    state in one transaction. Callers that arrive while a batch runs share the next one, so with
//    many writers one commit serves many appends.
//
// Every read of the log integrates first (integrateCustodyQueue), so a reader sees every committed
// event; an event left queued (a crash between commit and integration) is integrated by the next
// reader or writer.
import { Buffer } from 'node:buffer';
import type pg from 'pg';
import { sqlPool, type Database, type Transaction } from '../../database/client.ts';
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
import { insertAuditEntries, type AuditRecord } from '../audit/audit.repository.ts';
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

// The sequencer runs on node-postgres directly (sqlPool): every append waits for it, and a Prisma
// query costs about three times a plain one in CPU.
type LockedLog = { size: string; frontier: unknown };

async function lockLog(sql: pg.PoolClient, caseId: string): Promise<LockedLog> {
  const lock = 'SELECT size, frontier FROM custody_logs WHERE case_id = $1 FOR UPDATE';
  const { rows } = await sql.query<LockedLog>(lock, [caseId]);
  if (rows[0]) return rows[0];
  // The case's first entry: create its log (a no-op if a concurrent integration just did), then lock it.
  await sql.query(
    `INSERT INTO custody_logs (case_id, size, frontier, root_hash) VALUES ($1, 0, '[]'::jsonb, $2)
     ON CONFLICT (case_id) DO NOTHING`,
    [caseId, rootOfState(EMPTY_TREE)],
  );
  return (await sql.query<LockedLog>(lock, [caseId])).rows[0]!;
}

type QueueRow = {
  id: string;
  evidence_id: string;
  evidence_sha256: string;
  action: string;
  actor_id: string | null;
  at: Date;
  details: string;
};

/** An event for the sequencer: queued (with its queue id) or direct (with whom to answer). */
interface Pending {
  event: Omit<CustodyEntry, 'v' | 'caseId' | 'seq'>;
  queueId: string | null;
  direct?: DirectEvent;
}

interface DirectEvent {
  input: NewCustodyEntry;
  at: string;
  audit?: AuditRecord;
  resolve: (entry: AppendedEntry) => void;
  reject: (error: unknown) => void;
}

/** Direct events naming no item of the case with that hash: refused before the batch is written. */
async function refuseStrangers(sql: pg.PoolClient, caseId: string, direct: DirectEvent[]): Promise<DirectEvent[]> {
  if (direct.length === 0) return direct;
  const { rows } = await sql.query<{ id: string; sha256: string }>('SELECT id, sha256 FROM evidence WHERE case_id = $1 AND id = ANY($2::uuid[])', [
    caseId,
    direct.map((d) => d.input.evidenceId),
  ]);
  const known = new Map(rows.map((row) => [row.id, row.sha256]));
  return direct.filter((d) => {
    if (known.get(d.input.evidenceId) === d.input.evidenceSha256) return true;
    d.reject(new CustodyAppendError('custody entry names no evidence item of this case with this hash'));
    return false;
  });
}

/**
 * One transaction of the sequencer: the queued events (oldest first, at most INTEGRATION_BATCH),
 * then the direct ones, get their seq. Answers how many queued events it took.
 */
async function sequenceBatch(pool: pg.Pool, caseId: string, directEvents: DirectEvent[]): Promise<number> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const log = await lockLog(client, caseId);
    // A new statement after the lock: its snapshot sees what the previous holder committed.
    const { rows: queued } = await client.query<QueueRow>(
      `SELECT id, evidence_id, evidence_sha256, action, actor_id, at, details
         FROM custody_queue WHERE case_id = $1 ORDER BY id LIMIT $2`,
      [caseId, INTEGRATION_BATCH],
    );
    const direct = await refuseStrangers(client, caseId, directEvents);
    const pending: Pending[] = [
      ...queued.map((row) => ({
        queueId: row.id,
        event: {
          evidenceId: row.evidence_id,
          evidenceSha256: row.evidence_sha256,
          action: row.action,
          actorId: row.actor_id,
          at: row.at.toISOString(),
          details: JSON.parse(row.details) as JsonObject,
        },
      })),
      ...direct.map((d) => ({
        queueId: null,
        direct: d,
        event: { evidenceId: d.input.evidenceId, evidenceSha256: d.input.evidenceSha256, action: d.input.action, actorId: d.input.actorId, at: d.at, details: d.input.details ?? {} },
      })),
    ];
    if (pending.length === 0) {
      // Nothing to do: rolling back a transaction that locked a row costs no WAL flush.
      await client.query('ROLLBACK');
      return 0;
    }

    const before = treeStateFromJson({ size: Number(log.size), frontier: log.frontier });
    let state = before;
    const appended: AppendedEntry[] = [];
    for (const { event } of pending) {
      const entry: CustodyEntry = { v: 1, caseId, seq: state.size, ...event };
      assertCustodyEntry(entry);
      const leaf = leafHash(Buffer.from(canonicalize(entry), 'utf8'));
      appended.push({ seq: entry.seq, leafHash: leaf.toString('hex'), entry });
      state = appendLeaf(state, leaf);
    }

    // One statement: the entries, the queue rows they came from gone, and the tree state moved
    // from `before.size` to `state.size` (only if every queued row was there to delete).
    const { rowCount } = await client.query(
      `WITH inserted AS (
         INSERT INTO custody_entries (case_id, seq, evidence_id, action, actor_id, at, entry, leaf_hash, queue_id)
         SELECT $1, u.seq, u.evidence_id, u.action, u.actor_id, u.at, u.entry, decode(u.leaf, 'hex'), u.queue_id
           FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::uuid[], $6::timestamptz[], $7::text[], $8::text[], $9::bigint[])
                AS u(seq, evidence_id, action, actor_id, at, entry, leaf, queue_id)
         RETURNING queue_id
       ), dequeued AS (
         DELETE FROM custody_queue WHERE id IN (SELECT queue_id FROM inserted) RETURNING id
       )
       UPDATE custody_logs SET size = $10, frontier = $11::jsonb, root_hash = $12, updated_at = now()
        WHERE case_id = $1 AND size = $13 AND (SELECT count(*) FROM dequeued) = $14`,
      [
        caseId,
        appended.map((a) => a.seq),
        appended.map((a) => a.entry.evidenceId),
        appended.map((a) => a.entry.action),
        appended.map((a) => a.entry.actorId),
        appended.map((a) => a.entry.at),
        appended.map((a) => canonicalize(a.entry)),
        appended.map((a) => a.leafHash),
        pending.map((p) => p.queueId),
        state.size,
        JSON.stringify(treeStateToJson(state).frontier),
        rootOfState(state),
        before.size,
        queued.length,
      ],
    );
    if (rowCount !== 1) throw new Error('custody integration: the log or its queue changed under the lock');
    // The audit entries of direct events, in the same transaction, each naming its entry's seq.
    const audits = pending.flatMap((p, i) =>
      p.direct?.audit ? [{ ...p.direct.audit, details: { ...p.direct.audit.details, seq: appended[i]!.seq } }] : [],
    );
    if (audits.length > 0) await insertAuditEntries(client, audits);
    await client.query('COMMIT');
    pending.forEach((p, i) => p.direct?.resolve(appended[i]!));
    return queued.length;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

// One sequencer per case in each process; `running` while a batch loop is under way. A caller
// cannot use a batch that already started (it may have read the queue before the caller's
// commit), so it waits in `waiting`/`direct` for the next one.
interface CaseSequencer {
  running: boolean;
  waiting: { resolve: () => void; reject: (error: unknown) => void }[];
  direct: DirectEvent[];
}
const sequencers = new WeakMap<Database, Map<string, CaseSequencer>>();

function sequencerOf(db: Database, caseId: string): CaseSequencer {
  let byCase = sequencers.get(db);
  if (!byCase) sequencers.set(db, (byCase = new Map()));
  let sequencer = byCase.get(caseId);
  if (!sequencer) byCase.set(caseId, (sequencer = { running: false, waiting: [], direct: [] }));
  return sequencer;
}

async function runSequencer(pool: pg.Pool, caseId: string, sequencer: CaseSequencer): Promise<void> {
  sequencer.running = true;
  while (sequencer.waiting.length > 0 || sequencer.direct.length > 0) {
    const waiting = sequencer.waiting.splice(0);
    const direct = sequencer.direct.splice(0, INTEGRATION_BATCH);
    try {
      // A full batch may have left older queued events behind: go on until a batch is short.
      let taken = await sequenceBatch(pool, caseId, direct);
      while (taken === INTEGRATION_BATCH) taken = await sequenceBatch(pool, caseId, []);
      for (const w of waiting) w.resolve();
    } catch (error) {
      for (const w of waiting) w.reject(error);
      for (const d of direct) d.reject(error);
    }
  }
  sequencer.running = false;
}

function wake(db: Database, caseId: string, sequencer: CaseSequencer): void {
  if (!sequencer.running) void runSequencer(sqlPool(db), caseId, sequencer);
}

/** Gives every event queued for the case (and committed) before the call its seq. */
export async function integrateCustodyQueue(db: Database, caseId: string): Promise<void> {
  const sequencer = sequencerOf(db, caseId);
  if (!sequencer.running) {
    // A quiet log: one cheap read instead of a transaction that locks it.
    const { rowCount } = await sqlPool(db).query('SELECT 1 FROM custody_queue WHERE case_id = $1 LIMIT 1', [caseId]);
    if (rowCount === 0 && !sequencer.running) return;
  }
  await new Promise<void>((resolve, reject) => {
    sequencer.waiting.push({ resolve, reject });
    wake(db, caseId, sequencer);
  });
}

/**
 * Appends an event that records no other change (an access, a manual event) and answers its
 * entry, once committed. `audit`, when given, is written in the same transaction with the seq in
 * its details.
 */
export function appendCustodyEvent(db: Database, input: NewCustodyEntry, audit?: AuditRecord): Promise<AppendedEntry> {
  const at = (input.at ?? new Date()).toISOString();
  try {
    // Refused here, alone, rather than failing the batch it would join.
    entryLeafHash({ v: 1, caseId: input.caseId, seq: 0, evidenceId: input.evidenceId, evidenceSha256: input.evidenceSha256, action: input.action, actorId: input.actorId, at, details: input.details ?? {} });
  } catch (error) {
    return Promise.reject(error);
  }
  const sequencer = sequencerOf(db, input.caseId);
  return new Promise<AppendedEntry>((resolve, reject) => {
    sequencer.direct.push({ input, at, ...(audit ? { audit } : {}), resolve, reject });
    wake(db, input.caseId, sequencer);
  });
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
