import t from 'tap';
import {
  consistencyProof,
  consistencyProofFrom,
  EMPTY_ROOT,
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
} from '../../src/custody/merkle.ts';
import { makeLeaves, refLeafHash, refPath, refProof, refRoot } from '../helpers/custody-reference.ts';

const MAX = 64;
const leaves = makeLeaves(MAX);
const roots = Array.from({ length: MAX + 1 }, (_, n) => refRoot(leaves.slice(0, n)));
const hex = (bs: Buffer[]): string[] => bs.map((b) => b.toString('hex'));

t.test('RFC 6962 test vector and empty tree', async (t) => {
  const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
  const hashes = data.map((d) => leafHash(Buffer.from(d, 'hex')));
  t.equal(rootFromLeaves(hashes).toString('hex'), '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
  t.equal(rootFromLeaves([]).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.same(EMPTY_ROOT, rootFromLeaves([]));
  t.equal(leafHash(Buffer.alloc(0)).toString('hex'), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  t.same(nodeHash(hashes[0]!, hashes[1]!), refRoot(hashes.slice(0, 2)));
  t.same(hashes, data.map((d) => refLeafHash(Buffer.from(d, 'hex'))));
});

t.test('roots equal the reference for every size', async (t) => {
  for (let n = 0; n <= MAX; n++) t.same(rootFromLeaves(leaves.slice(0, n)), roots[n], `size ${n}`);
  const get = subtreeHashes(leaves);
  for (let n = 0; n <= MAX; n++) t.same(rootFrom(get, n), roots[n]);
  t.throws(() => rootFrom(get, -1), RangeError);
  t.throws(() => rootFrom(get, MAX + 1), RangeError);
});

t.test('inclusion proofs equal the reference and verify, every size and index', async (t) => {
  const get = subtreeHashes(leaves);
  let count = 0;
  for (let n = 1; n <= MAX; n++) {
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(leaves, i, n);
      const expected = refPath(i, leaves.slice(0, n));
      if (hex(proof).join() !== hex(expected).join()) t.fail(`proof ${i}/${n}`);
      if (hex(inclusionProofFrom(get, i, n)).join() !== hex(expected).join()) t.fail(`proofFrom ${i}/${n}`);
      if (!verifyInclusion(i, n, leaves[i]!, proof, roots[n]!)) t.fail(`verify ${i}/${n}`);
      if (!rootFromInclusionProof(i, n, leaves[i]!, proof)!.equals(roots[n]!)) t.fail(`root ${i}/${n}`);
      count++;
    }
  }
  t.equal(count, (MAX * (MAX + 1)) / 2);
});

t.test('consistency proofs equal the reference and verify, every 1 ≤ m ≤ n ≤ 64', async (t) => {
  const get = subtreeHashes(leaves);
  let count = 0;
  for (let n = 1; n <= MAX; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = consistencyProof(leaves, m, n);
      const expected = m === n ? [] : refProof(m, leaves.slice(0, n));
      if (hex(proof).join() !== hex(expected).join()) t.fail(`proof ${m}→${n}`);
      if (hex(consistencyProofFrom(get, m, n)).join() !== hex(expected).join()) t.fail(`proofFrom ${m}→${n}`);
      if (!verifyConsistency(m, n, roots[m]!, roots[n]!, proof)) t.fail(`verify ${m}→${n}`);
      count++;
    }
  }
  t.equal(count, (MAX * (MAX + 1)) / 2);
  t.same(consistencyProof(leaves, 0, 5), []);
  t.ok(verifyConsistency(0, 5, EMPTY_ROOT, roots[5]!, []));
  t.ok(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []));
  t.notOk(verifyConsistency(0, 5, roots[1]!, roots[5]!, []), 'size 0 needs the empty root');
  t.notOk(verifyConsistency(0, 5, EMPTY_ROOT, roots[5]!, [roots[1]!]), 'size 0 needs an empty proof');
  t.notOk(verifyConsistency(5, 5, roots[5]!, roots[5]!, [roots[1]!]), 'same size needs an empty proof');
  t.notOk(verifyConsistency(5, 5, roots[5]!, roots[4]!, []), 'same size needs the same root');
});

t.test('verifiers return false, never throw, on garbage', async (t) => {
  const proof = inclusionProof(leaves, 3, 10);
  const garbage: unknown[] = [undefined, null, -1, 1.5, NaN, Infinity, '3', {}, [], Buffer.alloc(31), Buffer.alloc(33), [null], ['ab']];
  for (const g of garbage) {
    const x = g as never;
    t.equal(verifyInclusion(x, 10, leaves[3]!, proof, roots[10]!), false);
    t.equal(verifyInclusion(3, x, leaves[3]!, proof, roots[10]!), false);
    t.equal(verifyInclusion(3, 10, x, proof, roots[10]!), false);
    t.equal(verifyInclusion(3, 10, leaves[3]!, x, roots[10]!), false);
    t.equal(verifyInclusion(3, 10, leaves[3]!, proof, x), false);
    t.equal(rootFromInclusionProof(3, 10, leaves[3]!, x), null);
    const cp = consistencyProof(leaves, 3, 10);
    t.equal(verifyConsistency(x, 10, roots[3]!, roots[10]!, cp), false);
    t.equal(verifyConsistency(3, x, roots[3]!, roots[10]!, cp), false);
    t.equal(verifyConsistency(3, 10, x, roots[10]!, cp), false);
    t.equal(verifyConsistency(3, 10, roots[3]!, x, cp), false);
    t.equal(verifyConsistency(3, 10, roots[3]!, roots[10]!, x), false);
  }
  t.equal(verifyInclusion(10, 10, leaves[3]!, proof, roots[10]!), false, 'index = size');
  t.equal(verifyInclusion(0, 0, leaves[0]!, [], EMPTY_ROOT), false, 'empty tree has no leaves');
  t.equal(verifyConsistency(10, 3, roots[10]!, roots[3]!, []), false, 'from > to');
  t.equal(verifyConsistency(3, 10, roots[3]!, roots[10]!, []), false, 'empty proof');
  t.ok(verifyInclusion(0, 1, leaves[0]!, [], roots[1]!), 'size 1: empty proof');
  t.ok(verifyInclusion(3, 10, new Uint8Array(leaves[3]!), proof.map((p) => new Uint8Array(p)), new Uint8Array(roots[10]!)));
});

t.test('generators reject bad ranges', async (t) => {
  t.throws(() => inclusionProof(leaves, 5, 5), RangeError);
  t.throws(() => inclusionProof(leaves, -1, 5), RangeError);
  t.throws(() => inclusionProof(leaves, 0, MAX + 1), RangeError);
  t.throws(() => inclusionProof(leaves, 0.5, 5), RangeError);
  t.throws(() => consistencyProof(leaves, 6, 5), RangeError);
  t.throws(() => consistencyProof(leaves, 1, MAX + 1), RangeError);
  t.throws(() => consistencyProof(leaves, -1, 5), RangeError);
  t.throws(() => subtreeHashes(leaves.slice(0, 5))(2, 1), RangeError, 'incomplete subtree');
  t.throws(() => inclusionProofFrom(subtreeHashes(leaves.slice(0, 5)), 0, 6), RangeError);
});

t.test('100k leaves: building once, then proofs in O(log n)', async (t) => {
  const n = 100_000;
  const big = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(String(i))));
  const started = performance.now();
  const get = subtreeHashes(big);
  const root = rootFrom(get, n);
  for (const i of [0, 1, 4095, 65_535, 65_536, 99_998, 99_999]) {
    t.ok(verifyInclusion(i, n, big[i]!, inclusionProofFrom(get, i, n), root), `include ${i}`);
  }
  for (const m of [1, 777, 65_536, 99_999]) {
    t.ok(verifyConsistency(m, n, rootFrom(get, m), root, consistencyProofFrom(get, m, n)), `consistent ${m}`);
  }
  t.comment(`100k: build + 11 proofs in ${(performance.now() - started).toFixed(0)} ms`);
  const fromArray = performance.now();
  t.ok(verifyInclusion(54_321, n, big[54_321]!, inclusionProof(big, 54_321, n), root), 'from the array');
  t.ok(verifyConsistency(777, n, rootFrom(get, 777), root, consistencyProof(big, 777, n)), 'from the array');
  t.comment(`100k: 2 proofs from the bare array in ${(performance.now() - fromArray).toFixed(0)} ms`);
  // Lookups per proof stay logarithmic.
  let lookups = 0;
  const counting = (level: number, index: number) => (lookups++, get(level, index));
  inclusionProofFrom(counting, 12_345, n);
  consistencyProofFrom(counting, 54_321, n);
  t.ok(lookups <= 4 * 17, `${lookups} lookups`);
});
