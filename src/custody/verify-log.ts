/** Re-checking a stored custody log, and one line of an exported bundle's log. */
import { Buffer } from 'node:buffer';
import { entryLeafHash } from './entry.ts';
import type { CustodyEntry } from './entry.ts';
import { verifyInclusion } from './merkle.ts';
import { appendLeaf, EMPTY_TREE, rootOfState } from './tree-state.ts';

export type StoredEntry = { seq: number; entry: CustodyEntry; leafHash: Buffer };

export type LogVerification = {
  valid: boolean;
  /** Number of entries checked (all of them, even when invalid). */
  size: number;
  /** Root over the recomputed leaves of the valid prefix (all entries when valid). */
  rootHash: Buffer;
  /** Seq (position) of the first entry that does not hold. */
  firstBadSeq?: number;
  reason?: string;
};

function recomputeLeaf(entry: unknown): Buffer | string {
  try {
    return entryLeafHash(entry as CustodyEntry);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Checks entries given in seq order: seq gapless from 0, entry.seq = seq, one caseId,
 * and each leaf hash recomputed from the entry equal to the stored one.
 */
export function verifyEntries(entries: readonly StoredEntry[]): LogVerification {
  let state = EMPTY_TREE;
  let caseId: string | undefined;
  const bad = (position: number, reason: string): LogVerification => ({
    valid: false,
    size: entries.length,
    rootHash: rootOfState(state),
    firstBadSeq: position,
    reason,
  });
  for (const [position, row] of entries.entries()) {
    if (row.seq !== position) return bad(position, `expected seq ${position}, found ${row.seq}`);
    const leaf = recomputeLeaf(row.entry);
    if (typeof leaf === 'string') return bad(position, leaf);
    if (row.entry.seq !== row.seq) return bad(position, `entry.seq ${row.entry.seq} differs from row seq`);
    caseId ??= row.entry.caseId;
    if (row.entry.caseId !== caseId) return bad(position, 'entry belongs to another case');
    if (!Buffer.isBuffer(row.leafHash) || !leaf.equals(row.leafHash)) {
      return bad(position, 'stored leaf hash differs from the entry');
    }
    state = appendLeaf(state, leaf);
  }
  return { valid: true, size: entries.length, rootHash: rootOfState(state) };
}

export type BundleLineResult = { ok: true; entry: CustodyEntry } | { ok: false; reason: string };

const HEX_HASH = /^[0-9a-f]{64}$/;

/**
 * Checks one parsed line of data/custody/log.jsonl, `{seq, entry, leafHash, inclusionProof}`
 * (hashes in hex), against a checkpoint's size and root.
 */
export function verifyBundleLine(line: unknown, checkpoint: { size: number; rootHash: Uint8Array }): BundleLineResult {
  if (typeof line !== 'object' || line === null) return { ok: false, reason: 'line is not an object' };
  const { seq, entry, leafHash, inclusionProof } = line as Record<string, unknown>;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return { ok: false, reason: 'bad seq' };
  if (typeof leafHash !== 'string' || !HEX_HASH.test(leafHash)) return { ok: false, reason: 'bad leafHash' };
  if (!Array.isArray(inclusionProof) || !inclusionProof.every((h) => typeof h === 'string' && HEX_HASH.test(h))) {
    return { ok: false, reason: 'bad inclusionProof' };
  }
  const leaf = recomputeLeaf(entry);
  if (typeof leaf === 'string') return { ok: false, reason: leaf };
  const custodyEntry = entry as CustodyEntry;
  if (custodyEntry.seq !== seq) return { ok: false, reason: `entry.seq ${custodyEntry.seq} differs from seq ${seq}` };
  if (leaf.toString('hex') !== leafHash) return { ok: false, reason: 'leafHash differs from the entry' };
  const proof = inclusionProof.map((h: string) => Buffer.from(h, 'hex'));
  if (!verifyInclusion(seq, checkpoint.size, leaf, proof, checkpoint.rootHash)) {
    return { ok: false, reason: `entry ${seq} is not included in the checkpoint's tree` };
  }
  return { ok: true, entry: custodyEntry };
}
