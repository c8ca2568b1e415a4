import t from 'tap';
import { entryLeafHash } from '../../src/custody/entry.ts';
import type { CustodyEntry } from '../../src/custody/entry.ts';
import { inclusionProof, rootFromLeaves } from '../../src/custody/merkle.ts';
import { verifyBundleLine, verifyEntries } from '../../src/custody/verify-log.ts';

function makeEntry(seq: number, caseId = 'c_1'): CustodyEntry {
  return {
    v: 1,
    caseId,
    seq,
    evidenceId: `ev_${seq % 3}`,
    evidenceSha256: (seq % 16).toString(16).repeat(64),
    action: seq === 0 ? 'collected' : 'accessed',
    actorId: 'u_1',
    at: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
    details: { n: seq },
  };
}

const rows = Array.from({ length: 13 }, (_, seq) => {
  const entry = makeEntry(seq);
  return { seq, entry, leafHash: entryLeafHash(entry) };
});
const root = rootFromLeaves(rows.map((r) => r.leafHash));

t.test('a sound log verifies', async (t) => {
  const result = verifyEntries(rows);
  t.same(result, { valid: true, size: 13, rootHash: root });
  t.same(verifyEntries([]), { valid: true, size: 0, rootHash: rootFromLeaves([]) });
});

t.test('tampering is found at the first bad seq', async (t) => {
  const at = (i: number, change: (r: (typeof rows)[number]) => object) =>
    rows.map((r, j) => (j === i ? { ...r, ...change(r) } : r)) as typeof rows;
  const cases: [typeof rows, number, RegExp][] = [
    [at(5, (r) => ({ entry: { ...r.entry, details: { n: 500 } } })), 5, /leaf hash differs/],
    [at(5, (r) => ({ leafHash: Buffer.from(r.leafHash).fill(0, 0, 1) })), 5, /leaf hash differs/],
    [at(5, () => ({ leafHash: 'not a buffer' })), 5, /leaf hash differs/],
    [rows.filter((r) => r.seq !== 4), 4, /expected seq 4, found 5/],
    [at(0, () => ({ seq: 1 })), 0, /expected seq 0/],
    [at(6, (r) => ({ entry: { ...r.entry, seq: 7 } })), 6, /entry.seq 7 differs/],
    [at(8, () => ({ entry: makeEntry(8, 'c_2'), leafHash: entryLeafHash(makeEntry(8, 'c_2')) })), 8, /another case/],
    [at(9, (r) => ({ entry: { ...r.entry, extra: true } })), 9, /unexpected field/],
    [at(3, () => ({ entry: 'nonsense' })), 3, /not an object/],
  ];
  for (const [log, firstBadSeq, reason] of cases) {
    const result = verifyEntries(log);
    t.equal(result.valid, false);
    t.equal(result.firstBadSeq, firstBadSeq);
    t.match(result.reason, reason);
    t.equal(result.size, log.length);
    t.same(result.rootHash, rootFromLeaves(rows.slice(0, firstBadSeq).map((r) => r.leafHash)), 'root of the valid prefix');
  }
});

t.test('bundle lines check against the checkpoint', async (t) => {
  const leaves = rows.map((r) => r.leafHash);
  const checkpoint = { size: rows.length, rootHash: root };
  const line = (seq: number) =>
    JSON.parse(
      JSON.stringify({
        seq,
        entry: rows[seq]!.entry,
        leafHash: leaves[seq]!.toString('hex'),
        inclusionProof: inclusionProof(leaves, seq, rows.length).map((h) => h.toString('hex')),
      }),
    ) as Record<string, unknown>;
  for (const r of rows) t.same(verifyBundleLine(line(r.seq), checkpoint), { ok: true, entry: r.entry });

  const good = line(6);
  const proof = good.inclusionProof as string[];
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    ['x', /not an object/],
    [{ ...good, seq: -1 }, /bad seq/],
    [{ ...good, seq: '6' }, /bad seq/],
    [{ ...good, leafHash: 'zz' }, /bad leafHash/],
    [{ ...good, inclusionProof: 'x' }, /bad inclusionProof/],
    [{ ...good, inclusionProof: [...proof.slice(1), 'AB'.repeat(32)] }, /bad inclusionProof/],
    [{ ...good, entry: { ...rows[6]!.entry, v: 2 } }, /v must be 1/],
    [{ ...good, entry: { ...rows[6]!.entry, details: { n: 7 } } }, /leafHash differs/],
    [{ ...good, seq: 7 }, /entry.seq 6 differs/],
    [{ ...good, inclusionProof: proof.slice(1) }, /not included/],
    [{ ...good, inclusionProof: [...proof.slice(0, -1), '00'.repeat(32)] }, /not included/],
  ];
  for (const [value, reason] of bad) {
    const result = verifyBundleLine(value, checkpoint);
    t.equal(result.ok, false);
    if (!result.ok) t.match(result.reason, reason);
  }
  t.equal(verifyBundleLine(good, { size: 12, rootHash: rootFromLeaves(leaves.slice(0, 12)) }).ok, false, 'other checkpoint');
});
