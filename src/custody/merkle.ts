/**
 * RFC 6962 / RFC 9162 Merkle tree: hashing, proof generation and verification.
 *
 * Proof generation only needs the hashes of complete (perfect, aligned) subtrees,
 * given by a SubtreeHashFn; each proof costs O(log n) look-ups. `subtreeHashes(leaves)`
 * builds such a function over an in-memory array in O(n) once.
 */
import { createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';

export const HASH_SIZE = 32;

/** SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export function leafHash(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x00)).update(bytes).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x01)).update(left).update(right).digest();
}

/**
 * Hash of the complete subtree of 2^level leaves that starts at leaf index·2^level.
 * Level 0 is the leaf hash itself.
 */
export type SubtreeHashFn = (level: number, index: number) => Buffer;

/** A SubtreeHashFn over an array of leaf hashes, building every complete level once (O(n)). */
export function subtreeHashes(leafHashes: readonly Buffer[]): SubtreeHashFn {
  const levels: Buffer[][] = [leafHashes.slice()];
  for (let below = levels[0]!; below.length > 1; ) {
    const level: Buffer[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) level.push(nodeHash(below[i]!, below[i + 1]!));
    levels.push(level);
    below = level;
  }
  return (level, index) => {
    const hash = levels[level]?.[index];
    if (hash === undefined) throw new RangeError(`no complete subtree at level ${level}, index ${index}`);
    return hash;
  };
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function isProof(p: unknown): p is Uint8Array[] {
  return Array.isArray(p) && p.every(isHash);
}

function equalHashes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** Largest power of two strictly smaller than n (n ≥ 2): RFC 6962's k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Largest power of two ≤ n (n ≥ 1). */
function floorPow2(n: number): number {
  let k = 1;
  while (k * 2 <= n) k *= 2;
  return k;
}

function log2(powerOfTwo: number): number {
  return Math.round(Math.log2(powerOfTwo));
}

/**
 * MTH(D[start:end]) where start is aligned to the largest power of two ≤ end − start
 * (always true of the ranges RFC 6962 proofs need). The range splits into complete
 * subtrees, largest first; the tree over them folds from the right.
 */
function rangeHash(get: SubtreeHashFn, start: number, end: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = start; at < end; ) {
    const size = floorPow2(end - at);
    parts.push(get(log2(size), at / size));
    at += size;
  }
  let acc = parts.pop()!;
  while (parts.length > 0) acc = nodeHash(parts.pop()!, acc);
  return acc;
}

function assertRange(index: number, size: number, available: number): void {
  if (!isSize(index) || !isSize(size) || index >= size || size > available) {
    throw new RangeError(`invalid index ${index} for tree size ${size} (of ${available} leaves)`);
  }
}

/** MTH of the first `size` leaves, from complete-subtree hashes. */
export function rootFrom(get: SubtreeHashFn, size: number): Buffer {
  if (!isSize(size)) throw new RangeError(`invalid tree size ${size}`);
  return size === 0 ? Buffer.from(EMPTY_ROOT) : rangeHash(get, 0, size);
}

/** MTH(D[0:n]) of all the given leaf hashes. */
export function rootFromLeaves(leafHashes: readonly Buffer[]): Buffer {
  return rootFrom(subtreeHashes(leafHashes), leafHashes.length);
}

/** RFC 6962 PATH(index, D[0:size]), leaf side first. */
export function inclusionProofFrom(get: SubtreeHashFn, index: number, size: number): Buffer[] {
  assertRange(index, size, Number.MAX_SAFE_INTEGER);
  const topDown: Buffer[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      topDown.push(rangeHash(get, lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(rangeHash(get, lo, lo + k));
      lo += k;
    }
  }
  return topDown.reverse();
}

export function inclusionProof(leafHashes: readonly Buffer[], index: number, size: number): Buffer[] {
  assertRange(index, size, leafHashes.length);
  return inclusionProofFrom(subtreeHashes(leafHashes.slice(0, size)), index, size);
}

/** RFC 6962 PROOF(from, D[0:to]); empty when from is 0 or from = to. */
export function consistencyProofFrom(get: SubtreeHashFn, from: number, to: number): Buffer[] {
  if (!isSize(from) || !isSize(to) || from > to) throw new RangeError(`invalid consistency range ${from}..${to}`);
  if (from === 0 || from === to) return [];
  // SUBPROOF(m, D[lo:hi], b), unrolled: each step appends one hash after the deeper proof.
  const topDown: Buffer[] = [];
  let lo = 0;
  let hi = to;
  let m = from;
  let startsAtOldRoot = true;
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      topDown.push(rangeHash(get, lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(rangeHash(get, lo, lo + k));
      lo += k;
      m -= k;
      startsAtOldRoot = false;
    }
  }
  const proof = startsAtOldRoot ? [] : [rangeHash(get, lo, hi)];
  return proof.concat(topDown.reverse());
}

export function consistencyProof(leafHashes: readonly Buffer[], from: number, to: number): Buffer[] {
  if (!isSize(to) || to > leafHashes.length) throw new RangeError(`invalid tree size ${to}`);
  return consistencyProofFrom(subtreeHashes(leafHashes.slice(0, to)), from, to);
}

/** The root implied by an inclusion proof (RFC 9162 §2.1.3.2), or null if the proof cannot hold. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer | null {
  if (!isSize(index) || !isSize(size) || index >= size || !isHash(leaf) || !isProof(proof)) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(root)) return false;
  const computed = rootFromInclusionProof(index, size, leaf, proof);
  return computed !== null && equalHashes(computed, root);
}

/** RFC 9162 §2.1.4.2, plus the trivial cases: from = to (empty proof, same root) and from = 0. */
export function verifyConsistency(
  from: number,
  to: number,
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(from) || !isSize(to) || from > to) return false;
  if (!isHash(fromRoot) || !isHash(toRoot) || !isProof(proof)) return false;
  if (from === 0) return proof.length === 0 && equalHashes(fromRoot, EMPTY_ROOT);
  if (from === to) return proof.length === 0 && equalHashes(fromRoot, toRoot);
  if (proof.length === 0) return false;

  const path = floorPow2(from) === from ? [fromRoot, ...proof] : [...proof];
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalHashes(fr, fromRoot) && equalHashes(sr, toRoot);
}
