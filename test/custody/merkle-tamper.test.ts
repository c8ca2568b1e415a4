import t from 'tap';
import { consistencyProof, inclusionProof, verifyConsistency, verifyInclusion } from '../../src/custody/merkle.ts';
import { makeLeaves, refPath, refProof, refRoot } from '../helpers/custody-reference.ts';

const MAX = 64;
const leaves = makeLeaves(MAX);
const roots = Array.from({ length: MAX + 1 }, (_, n) => refRoot(leaves.slice(0, n)));
const hex = (bs: Buffer[]): string[] => bs.map((b) => b.toString('hex'));

function flipEachBit(proof: Buffer[], check: (p: Buffer[]) => boolean): boolean {
  for (let i = 0; i < proof.length; i++) {
    for (let bit = 0; bit < 256; bit++) {
      const p = proof.map((h) => Buffer.from(h));
      p[i]![bit >> 3]! ^= 1 << (bit & 7);
      if (check(p)) return false;
    }
  }
  return true;
}

t.test('every flipped bit of every inclusion proof fails (sizes 1–32)', async (t) => {
  for (let n = 1; n <= 32; n++) {
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(leaves, i, n);
      if (!flipEachBit(proof, (p) => verifyInclusion(i, n, leaves[i]!, p, roots[n]!))) t.fail(`flip ${i}/${n}`);
      const leaf = Buffer.from(leaves[i]!);
      leaf[0]! ^= 1;
      if (verifyInclusion(i, n, leaf, proof, roots[n]!)) t.fail(`leaf ${i}/${n}`);
      const root = Buffer.from(roots[n]!);
      root[31]! ^= 0x80;
      if (verifyInclusion(i, n, leaves[i]!, proof, root)) t.fail(`root ${i}/${n}`);
      for (let j = 0; j < n; j++) {
        if (j !== i && verifyInclusion(j, n, leaves[i]!, proof, roots[n]!)) t.fail(`index ${j} for ${i}/${n}`);
      }
      // The size only shapes the path (the checkpoint signs size and root together), so a
      // proof may fit another size of the same shape under the same root; it must never
      // prove inclusion in the genuine tree of another size.
      for (let m = i + 1; m <= MAX; m++) {
        if (m === n || hex(refPath(i, leaves.slice(0, m))).join() === hex(proof).join()) continue;
        if (verifyInclusion(i, m, leaves[i]!, proof, roots[m]!)) t.fail(`size ${m} for ${i}/${n}`);
      }
      if (verifyInclusion(i, n, leaves[i]!, [...proof, leaves[0]!], roots[n]!)) t.fail(`extended ${i}/${n}`);
      if (proof.length > 0 && verifyInclusion(i, n, leaves[i]!, proof.slice(0, -1), roots[n]!)) {
        t.fail(`truncated ${i}/${n}`);
      }
    }
  }
  t.pass('done');
});

t.test('every flipped bit of every consistency proof fails (sizes 1–32)', async (t) => {
  for (let n = 1; n <= 32; n++) {
    for (let m = 1; m < n; m++) {
      const proof = consistencyProof(leaves, m, n);
      if (!flipEachBit(proof, (p) => verifyConsistency(m, n, roots[m]!, roots[n]!, p))) t.fail(`flip ${m}→${n}`);
      for (let m2 = 1; m2 < n; m2++) {
        if (m2 !== m && verifyConsistency(m2, n, roots[m]!, roots[n]!, proof)) t.fail(`from ${m2} for ${m}→${n}`);
      }
      for (let n2 = m + 1; n2 <= MAX; n2++) {
        if (n2 === n || hex(refProof(m, leaves.slice(0, n2))).join() === hex(proof).join()) continue;
        if (verifyConsistency(m, n2, roots[m]!, roots[n2]!, proof)) t.fail(`to ${n2} for ${m}→${n}`);
      }
      if (verifyConsistency(m, n, roots[m]!, roots[n]!, [...proof, leaves[0]!])) t.fail(`extended ${m}→${n}`);
      if (verifyConsistency(m, n, roots[m]!, roots[n]!, proof.slice(0, -1))) t.fail(`truncated ${m}→${n}`);
      if (verifyConsistency(m, n, roots[m + 1]!, roots[n]!, proof)) t.fail(`old root ${m}→${n}`);
      if (verifyConsistency(m, n, roots[m]!, roots[n - 1]!, proof)) t.fail(`new root ${m}→${n}`);
    }
  }
  t.pass('done');
});
