import t from 'tap';
import * as custody from '../../src/custody/index.ts';

t.test('the public API is re-exported', async (t) => {
  t.same(Object.keys(custody).sort(), [
    'CanonicalJsonError', 'CheckpointFormatError', 'CustodyEntryError', 'EMPTY_ROOT', 'EMPTY_TREE', 'HASH_SIZE',
    'TreeStateError', 'appendLeaf', 'assertCustodyEntry', 'canonicalize', 'checkpointBody', 'consistencyProof',
    'consistencyProofFrom', 'encodeEntry', 'entryLeafHash', 'inclusionProof', 'inclusionProofFrom', 'keyId',
    'leafHash', 'nodeHash', 'parseCheckpoint', 'publicKeyFromRaw', 'publicKeyPem', 'publicKeyRaw', 'rootFrom',
    'rootFromInclusionProof', 'rootFromLeaves', 'rootOfState', 'signCheckpoint', 'subtreeHashes',
    'treeStateFromJson', 'treeStateFromLeaves', 'treeStateToJson', 'verifyBundleLine', 'verifyCheckpoint',
    'verifyConsistency', 'verifyEntries', 'verifyInclusion',
  ]);
});
