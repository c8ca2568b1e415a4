// Naive RFC 6962 §2.1 reference: direct recursive transcriptions of MTH, PATH and PROOF,
// independent of src/custody (own hashing), used to check the optimised code.
import { createHash } from 'node:crypto';

const sha256 = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();

export const refLeafHash = (d: Buffer): Buffer => sha256(Buffer.of(0), d);
const refNode = (l: Buffer, r: Buffer): Buffer => sha256(Buffer.of(1), l, r);

// k: the largest power of two smaller than n.
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

// MTH over leaf *hashes* (D already hashed): MTH({d0}) = leaf hash, MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])).
export function refRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaves[0]!;
  const split = k(leaves.length);
  return refNode(refRoot(leaves.slice(0, split)), refRoot(leaves.slice(split)));
}

export function refPath(m: number, leaves: Buffer[]): Buffer[] {
  const n = leaves.length;
  if (n === 1) return [];
  const split = k(n);
  if (m < split) return [...refPath(m, leaves.slice(0, split)), refRoot(leaves.slice(split))];
  return [...refPath(m - split, leaves.slice(split)), refRoot(leaves.slice(0, split))];
}

function subproof(m: number, leaves: Buffer[], b: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [refRoot(leaves)];
  const split = k(n);
  if (m <= split) return [...subproof(m, leaves.slice(0, split), b), refRoot(leaves.slice(split))];
  return [...subproof(m - split, leaves.slice(split), false), refRoot(leaves.slice(0, split))];
}

export function refProof(m: number, leaves: Buffer[]): Buffer[] {
  return subproof(m, leaves, true);
}

export function makeLeaves(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => refLeafHash(Buffer.from(`leaf ${i}`)));
}
