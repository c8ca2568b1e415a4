/**
 * The incremental tree of a log: its size and the "frontier" (a compact range over
 * [0, size)), the hashes of the complete subtrees along the right edge, largest
 * (leftmost) first, one per set bit of size. Appending a leaf and computing the root
 * take O(log n) and need no other stored hash.
 */
import { Buffer } from 'node:buffer';
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './merkle.ts';

export type TreeState = { readonly size: number; readonly frontier: readonly Buffer[] };
export type TreeStateJson = { size: number; frontier: string[] };

export class TreeStateError extends Error {
  override name = 'TreeStateError';
}

export const EMPTY_TREE: TreeState = Object.freeze({ size: 0, frontier: Object.freeze([]) });

function popcount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x % 2;
  return count;
}

export function appendLeaf(state: TreeState, leaf: Buffer): TreeState {
  if (leaf.length !== HASH_SIZE) throw new TreeStateError('leaf hash must be 32 bytes');
  const frontier = state.frontier.slice();
  let hash = leaf;
  // Each trailing 1 bit of size is a complete subtree of the same height as `hash`: merge.
  for (let s = state.size; s % 2 === 1; s = (s - 1) / 2) hash = nodeHash(frontier.pop()!, hash);
  frontier.push(hash);
  return { size: state.size + 1, frontier };
}

export function treeStateFromLeaves(leafHashes: readonly Buffer[]): TreeState {
  return leafHashes.reduce(appendLeaf, EMPTY_TREE);
}

export function rootOfState(state: TreeState): Buffer {
  if (state.size === 0) return Buffer.from(EMPTY_ROOT);
  const parts = state.frontier.slice();
  let acc = parts.pop()!;
  while (parts.length > 0) acc = nodeHash(parts.pop()!, acc);
  return acc;
}

export function treeStateToJson(state: TreeState): TreeStateJson {
  return { size: state.size, frontier: state.frontier.map((h) => h.toString('hex')) };
}

export function treeStateFromJson(json: unknown): TreeState {
  const { size, frontier } = (json ?? {}) as { size?: unknown; frontier?: unknown };
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new TreeStateError('tree state: size must be a non-negative integer');
  }
  if (!Array.isArray(frontier) || frontier.length !== popcount(size)) {
    throw new TreeStateError('tree state: frontier must hold one hash per set bit of size');
  }
  const hashes = frontier.map((h: unknown) => {
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) {
      throw new TreeStateError('tree state: frontier hashes must be 64 lowercase hex digits');
    }
    return Buffer.from(h, 'hex');
  });
  return { size, frontier: hashes };
}
