// Custody log rules: who may read or append, proofs, and the full re-check of a stored log.
import { Buffer } from 'node:buffer';
import { createPublicKey } from 'node:crypto';
import {
  EMPTY_ROOT,
  EMPTY_TREE,
  appendLeaf,
  assertCustodyEntry,
  canonicalize,
  consistencyProofFrom,
  inclusionProofFrom,
  leafHash,
  parseCheckpoint,
  rootFrom,
  rootOfState,
  subtreeHashes,
  verifyCheckpoint,
  type CustodyEntry,
  type TreeState,
} from '../../custody/index.ts';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { AppError, invalid } from '../../http/errors.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import type { Keys } from '../../keys.ts';
import { auditRecord } from '../audit/audit.ts';
import { authorize } from '../cases/access.ts';
import { appendCustodyEvent, integrateCustodyQueue, type AppendedEntry, type ManualCustodyAction } from './custody.append.ts';
import { checkpointOrigin, signCheckpoint } from './checkpoints.ts';
import {
  checkpointsUpTo,
  entriesBetween,
  findEvidenceForCustody,
  findLogState,
  leafHashes,
  listEntries,
  listSigningKeys,
  type EntryRow,
} from './custody.repository.ts';

export interface CustodyDeps {
  db: Database;
  config: Config;
  keys: Keys;
}

export interface EntryView {
  seq: number;
  leafHash: string;
  entry: CustodyEntry;
}

const view = (row: EntryRow): EntryView => ({ seq: row.seq, leafHash: row.leafHash.toString('hex'), entry: JSON.parse(row.entry) as CustodyEntry });
const hex = (hash: Buffer) => hash.toString('hex');

async function evidenceFor(deps: CustodyDeps, caller: Caller, evidenceId: string, action: 'custody.read' | 'custody.append') {
  const evidence = await findEvidenceForCustody(deps.db, evidenceId);
  await authorize(deps.db, caller, action, evidence?.caseId, { what: 'evidence' });
  return evidence!;
}

function page(rows: EntryRow[], limit: number) {
  const { items, nextCursor } = pageOf(rows, limit, (row) => [row.seq]);
  return { items: items.map(view), nextCursor };
}

function afterSeq(cursor: string | undefined): number {
  const key = decodeCursor(cursor, ['number']);
  return key ? (key[0] as number) : -1;
}

export async function listCaseEntries(deps: CustodyDeps, caller: Caller, caseId: string, query: { limit: number; cursor?: string }) {
  await authorize(deps.db, caller, 'custody.read', caseId, { what: 'case' });
  await integrateCustodyQueue(deps.db, caseId);
  return page(await listEntries(deps.db, { caseId }, afterSeq(query.cursor), query.limit + 1), query.limit);
}

export async function listEvidenceEntries(deps: CustodyDeps, caller: Caller, evidenceId: string, query: { limit: number; cursor?: string }) {
  const evidence = await evidenceFor(deps, caller, evidenceId, 'custody.read');
  await integrateCustodyQueue(deps.db, evidence.caseId);
  return page(await listEntries(deps.db, { evidenceId }, afterSeq(query.cursor), query.limit + 1), query.limit);
}

export async function appendManualEntry(
  deps: CustodyDeps,
  caller: Caller,
  evidenceId: string,
  input: { action: ManualCustodyAction; note: string; location?: string },
): Promise<AppendedEntry> {
  const evidence = await evidenceFor(deps, caller, evidenceId, 'custody.append');
  // The note stays in the log only: audit details carry no free text.
  return appendCustodyEvent(
    deps.db,
    {
      caseId: evidence.caseId,
      evidenceId: evidence.id,
      evidenceSha256: evidence.sha256,
      action: input.action,
      actorId: caller.user.id,
      details: input.location === undefined ? { note: input.note } : { note: input.note, location: input.location },
    },
    auditRecord(caller, { action: 'custody.append', targetType: 'evidence', targetId: evidence.id, caseId: evidence.caseId, details: { custodyAction: input.action } }),
  );
}

export async function latestCheckpoint(deps: CustodyDeps, caller: Caller, caseId: string): Promise<string> {
  await authorize(deps.db, caller, 'custody.read', caseId, { what: 'case' });
  await integrateCustodyQueue(deps.db, caseId);
  return (await signCheckpoint(deps.db, deps.keys, deps.config, caseId)).note;
}

/** The size of the log once every committed event is integrated. */
async function currentSize(deps: CustodyDeps, caseId: string): Promise<number> {
  await integrateCustodyQueue(deps.db, caseId);
  return (await findLogState(deps.db, caseId))?.size ?? 0;
}

/** The leaf hashes of the first `size` entries, refusing a log with missing rows. */
async function treeOf(deps: CustodyDeps, caseId: string, size: number) {
  const leaves = await leafHashes(deps.db, caseId, size);
  if (leaves.length !== size) {
    throw new AppError('internal', 'The custody log has missing entries; run the custody verification.');
  }
  return subtreeHashes(leaves);
}

export async function inclusionProof(deps: CustodyDeps, caller: Caller, caseId: string, query: { seq: number; size?: number }) {
  await authorize(deps.db, caller, 'custody.read', caseId, { what: 'case' });
  const logSize = await currentSize(deps, caseId);
  const size = query.size ?? logSize;
  if (size > logSize) throw invalid('querystring.size', `is beyond the log (size ${logSize})`);
  if (query.seq >= size) throw invalid('querystring.seq', `must be below the tree size ${size}`);
  const tree = await treeOf(deps, caseId, size);
  return {
    seq: query.seq,
    size,
    leafHash: hex(tree(0, query.seq)),
    rootHash: hex(rootFrom(tree, size)),
    proof: inclusionProofFrom(tree, query.seq, size).map(hex),
  };
}

export async function consistencyProof(deps: CustodyDeps, caller: Caller, caseId: string, query: { from: number; to?: number }) {
  await authorize(deps.db, caller, 'custody.read', caseId, { what: 'case' });
  const logSize = await currentSize(deps, caseId);
  const to = query.to ?? logSize;
  if (to > logSize) throw invalid('querystring.to', `is beyond the log (size ${logSize})`);
  if (query.from > to) throw invalid('querystring.from', `must not exceed to (${to})`);
  const tree = await treeOf(deps, caseId, to);
  return {
    from: query.from,
    to,
    fromRoot: hex(rootFrom(tree, query.from)),
    toRoot: hex(rootFrom(tree, to)),
    proof: consistencyProofFrom(tree, query.from, to).map(hex),
  };
}

export interface Verification {
  valid: boolean;
  size: number;
  rootHash: string;
  checkpoint: string | null;
  firstBadSeq?: number;
  reason?: string;
}

/** Why one stored row does not hold, or null when it does. */
function checkRow(row: EntryRow, expectedSeq: number, caseId: string): string | null {
  if (row.seq !== expectedSeq) return `entry ${expectedSeq} is missing`;
  let entry: unknown;
  try {
    entry = JSON.parse(row.entry);
    assertCustodyEntry(entry);
  } catch (error) {
    return `entry ${row.seq} is not a valid custody entry (${(error as Error).message})`;
  }
  if (canonicalize(entry) !== row.entry) return `entry ${row.seq} is not in canonical form`;
  if (entry.seq !== row.seq) return `entry ${row.seq} names seq ${entry.seq}`;
  if (entry.caseId !== caseId) return `entry ${row.seq} names another case`;
  if (!leafHash(Buffer.from(row.entry, 'utf8')).equals(row.leafHash)) return `entry ${row.seq} does not match its stored leaf hash`;
  return null;
}

const VERIFY_BATCH = 5000;


/**
 * Recomputes the log from the stored entry text: every leaf, seq gapless, the root against the
 * stored tree state, and every stored checkpoint against the root of its first `size` leaves
 * and the published key it names. Entries are read in batches, never all at once.
 */
export async function verifyLog(deps: CustodyDeps, caller: Caller, caseId: string): Promise<Verification> {
  await authorize(deps.db, caller, 'custody.read', caseId, { what: 'case' });
  return verifyCaseLog(deps, caseId);
}

/**
 * With `deps.keys`, the queued entries are integrated first and the latest checkpoint is signed
 * when it is new, as the API does. Without (`custodia check`), nothing is written: the log is
 * checked as it is stored, against its stored checkpoints.
 */
export async function verifyCaseLog(
  deps: { db: Database; keys?: Pick<Keys, 'signing'>; config: Pick<Config, 'instanceId'> },
  caseId: string,
): Promise<Verification> {
  const { db } = deps;
  if (deps.keys) await integrateCustodyQueue(db, caseId);
  // Entries below the stored size are committed with it and never change: no snapshot needed.
  const stored = (await findLogState(db, caseId)) ?? { size: 0, rootHash: Buffer.from(EMPTY_ROOT) };
  const checkpoints = await checkpointsUpTo(db, caseId, stored.size);
  const rootsAt = new Map<number, Buffer>();
  const wanted = new Set(checkpoints.map((c) => c.size));
  let state: TreeState = EMPTY_TREE;
  if (wanted.has(0)) rootsAt.set(0, rootOfState(state));

  let failure: { seq: number; reason: string } | null = null;
  for (let from = 0; from < stored.size && failure === null; from += VERIFY_BATCH) {
    const to = Math.min(from + VERIFY_BATCH, stored.size);
    const rows = await entriesBetween(db, caseId, from, to);
    for (let seq = from; seq < to; seq++) {
      const row = rows[seq - from];
      const reason = row === undefined ? `entry ${seq} is missing` : checkRow(row, seq, caseId);
      if (reason !== null) {
        failure = { seq, reason };
        break;
      }
      state = appendLeaf(state, row!.leafHash);
      if (wanted.has(state.size)) rootsAt.set(state.size, rootOfState(state));
    }
  }
  const rootHash = rootOfState(state);
  const result = (valid: boolean, reason?: string, checkpoint: string | null = checkpoints.at(-1)?.note ?? null): Verification => ({
    valid,
    size: stored.size,
    rootHash: hex(rootHash),
    checkpoint,
    ...(failure ? { firstBadSeq: failure.seq } : {}),
    ...(reason ? { reason } : {}),
  });
  if (failure) return result(false, failure.reason);
  if (!rootHash.equals(stored.rootHash)) return result(false, 'the stored tree state does not match the entries');

  const keys = new Map((await listSigningKeys(db)).map((k) => [k.keyId, k]));
  for (const checkpoint of checkpoints) {
    const problem = checkpointProblem(deps.config, caseId, checkpoint, rootsAt.get(checkpoint.size), keys);
    if (problem) return result(false, `checkpoint at size ${checkpoint.size}: ${problem}`);
  }
  if (!deps.keys) return result(true);
  // The log verified: its current checkpoint can be signed (or is already stored).
  const latest = await signCheckpoint(db, deps.keys, deps.config, caseId);
  if (!latest.rootHash.equals(rootHash) || latest.size !== stored.size) return result(false, 'the latest checkpoint does not match the entries', latest.note);
  return result(true, undefined, latest.note);
}

function checkpointProblem(
  config: Pick<Config, 'instanceId'>,
  caseId: string,
  checkpoint: { size: number; rootHash: Buffer; note: string; keyId: string },
  expectedRoot: Buffer | undefined,
  keys: Map<string, { name: string; publicKeyPem: string }>,
): string | null {
  let parsed;
  try {
    parsed = parseCheckpoint(checkpoint.note);
  } catch {
    return 'malformed note';
  }
  if (parsed.origin !== checkpointOrigin(config, caseId)) return 'wrong origin';
  if (parsed.size !== checkpoint.size || !parsed.rootHash.equals(checkpoint.rootHash)) return 'note differs from its row';
  if (expectedRoot === undefined || !parsed.rootHash.equals(expectedRoot)) return 'root differs from the entries';
  const key = keys.get(checkpoint.keyId);
  if (!key) return 'signed with an unpublished key';
  if (!verifyCheckpoint(checkpoint.note, createPublicKey(key.publicKeyPem), key.name)) return 'signature does not verify';
  return null;
}

export async function publishedKeys(deps: Pick<CustodyDeps, 'db'>) {
  const keys = await listSigningKeys(deps.db);
  return { keys: keys.map((k) => ({ ...k, status: k.status as 'current' | 'retired', createdAt: k.createdAt.toISOString() })) };
}
