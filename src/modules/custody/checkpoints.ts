// Signed checkpoints of a case's log, made on demand (the checkpoint route, exports). One per
// (case, size): a second request at the same size gets the stored one, so two checkpoints can
// never disagree.
import { Buffer } from 'node:buffer';
import { EMPTY_ROOT, checkpointBody, parseCheckpoint, signCheckpoint as signNote } from '../../custody/index.ts';
import type { Config } from '../../config.ts';
import type { Db } from '../../database/client.ts';
import type { Keys } from '../../keys.ts';
import { findCheckpoint, findLogState, insertCheckpoint } from './custody.repository.ts';

export interface SignedCheckpoint {
  caseId: string;
  size: number;
  rootHash: Buffer;
  /** The whole signed note. */
  note: string;
  /** The three signed lines, newlines included. */
  body: string;
  /** The raw 64-byte Ed25519 signature of `body`. */
  signature: Buffer;
  keyId: string;
}

export function checkpointOrigin(config: Pick<Config, 'instanceId'>, caseId: string): string {
  return `custodia/${config.instanceId}/cases/${caseId}`;
}

function withParts(caseId: string, stored: { size: number; rootHash: Buffer; note: string; keyId: string }): SignedCheckpoint {
  const parsed = parseCheckpoint(stored.note);
  const signature = parsed.signatures.find((s) => s.keyId.toString('hex') === stored.keyId) ?? parsed.signatures[0]!;
  return { caseId, ...stored, body: parsed.body, signature: Buffer.from(signature.signature) };
}

/**
 * The checkpoint of the case's log as it stands (as `db` sees it: inside a transaction, its own
 * appends included), signing and storing one if none exists at that size yet.
 */
export async function signCheckpoint(db: Db, keys: Pick<Keys, 'signing'>, config: Pick<Config, 'instanceId'>, caseId: string): Promise<SignedCheckpoint> {
  const state = (await findLogState(db, caseId)) ?? { size: 0, rootHash: Buffer.from(EMPTY_ROOT) };
  const existing = await findCheckpoint(db, caseId, state.size);
  if (existing) return withParts(caseId, existing);

  const note = signNote(checkpointBody(checkpointOrigin(config, caseId), state.size, state.rootHash), keys.signing);
  await insertCheckpoint(db, caseId, { size: state.size, rootHash: state.rootHash, note, keyId: keys.signing.keyId });
  // Another request may have stored its own first: answer the stored one either way.
  const stored = await findCheckpoint(db, caseId, state.size);
  return withParts(caseId, stored!);
}
