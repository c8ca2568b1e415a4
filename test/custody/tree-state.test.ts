import t from 'tap';
import { rootFrom, subtreeHashes } from '../../src/custody/merkle.ts';
import {
  appendLeaf,
  EMPTY_TREE,
  rootOfState,
  treeStateFromJson,
  treeStateFromLeaves,
  treeStateToJson,
  TreeStateError,
} from '../../src/custody/tree-state.ts';
import { makeLeaves, refRoot } from '../helpers/custody-reference.ts';

const leaves = makeLeaves(300);

t.test('appending gives the reference root at every size', async (t) => {
  let state = EMPTY_TREE;
  t.equal(rootOfState(state).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let n = 1; n <= leaves.length; n++) {
    const before = state;
    state = appendLeaf(state, leaves[n - 1]!);
    t.equal(before.size, n - 1, 'input state untouched');
    t.equal(state.size, n);
    if (n <= 64 || n % 37 === 0) t.same(rootOfState(state), refRoot(leaves.slice(0, n)), `size ${n}`);
    else t.same(rootOfState(state), rootFrom(subtreeHashes(leaves), n));
  }
  t.same(rootOfState(treeStateFromLeaves(leaves)), rootOfState(state));
});

t.test('the frontier is the compact range of [0, size)', async (t) => {
  const get = subtreeHashes(leaves);
  const state = treeStateFromLeaves(leaves.slice(0, 0b1011010));
  // 90 = 64 + 16 + 8 + 2
  t.same(state.frontier, [get(6, 0), get(4, 4), get(3, 10), get(1, 44)]);
});

t.test('JSON round trip and validation', async (t) => {
  for (const n of [0, 1, 2, 7, 64, 255]) {
    const state = treeStateFromLeaves(leaves.slice(0, n));
    const json = JSON.parse(JSON.stringify(treeStateToJson(state))) as unknown;
    const back = treeStateFromJson(json);
    t.same(back, state);
    t.same(rootOfState(back), rootOfState(state));
  }
  const good = treeStateToJson(treeStateFromLeaves(leaves.slice(0, 5)));
  t.same(good, { size: 5, frontier: [good.frontier[0], good.frontier[1]] });
  const bad: unknown[] = [
    null,
    undefined,
    {},
    { size: -1, frontier: [] },
    { size: 1.5, frontier: [] },
    { size: '5', frontier: good.frontier },
    { size: 5, frontier: good.frontier.slice(0, 1) },
    { size: 5, frontier: 'x' },
    { size: 5, frontier: [good.frontier[0], good.frontier[1]!.toUpperCase()] },
    { size: 5, frontier: [good.frontier[0], 42] },
    { size: 5, frontier: [good.frontier[0], good.frontier[1]!.slice(2)] },
  ];
  for (const b of bad) t.throws(() => treeStateFromJson(b), TreeStateError, JSON.stringify(b));
});

t.test('rejects a leaf hash that is not 32 bytes', async (t) => {
  t.throws(() => appendLeaf(EMPTY_TREE, Buffer.alloc(31)), TreeStateError);
});
