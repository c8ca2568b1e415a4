export { canonicalize, CanonicalJsonError } from './canonical-json.ts';
export type { JsonObject, JsonValue } from './canonical-json.ts';
export { assertCustodyEntry, CustodyEntryError, encodeEntry, entryLeafHash } from './entry.ts';
export type { CustodyEntry } from './entry.ts';
export {
  consistencyProof,
  consistencyProofFrom,
  EMPTY_ROOT,
  HASH_SIZE,
  inclusionProof,
  inclusionProofFrom,
  leafHash,
  nodeHash,
  rootFrom,
  rootFromInclusionProof,
  rootFromLeaves,
  subtreeHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';
export type { SubtreeHashFn } from './merkle.ts';
export {
  appendLeaf,
  EMPTY_TREE,
  rootOfState,
  treeStateFromJson,
  treeStateFromLeaves,
  treeStateToJson,
  TreeStateError,
} from './tree-state.ts';
export type { TreeState, TreeStateJson } from './tree-state.ts';
export {
  checkpointBody,
  CheckpointFormatError,
  keyId,
  parseCheckpoint,
  publicKeyFromRaw,
  publicKeyPem,
  publicKeyRaw,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.ts';
export type { Checkpoint, CheckpointSignature } from './checkpoint.ts';
export { verifyBundleLine, verifyEntries } from './verify-log.ts';
export type { BundleLineResult, LogVerification, StoredEntry } from './verify-log.ts';
