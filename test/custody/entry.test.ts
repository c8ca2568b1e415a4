import t from 'tap';
import { createHash } from 'node:crypto';
import { assertCustodyEntry, CustodyEntryError, encodeEntry, entryLeafHash } from '../../src/custody/entry.ts';
import type { CustodyEntry } from '../../src/custody/entry.ts';

const sample: CustodyEntry = {
  v: 1,
  caseId: 'c_01',
  seq: 7,
  evidenceId: 'ev_42',
  evidenceSha256: 'ab'.repeat(32),
  action: 'exported',
  actorId: 'u_9',
  at: '2025-03-01T12:00:00.000Z',
  details: { exportId: 'x_1', note: 'Zoë €' },
};

t.test('canonical bytes and leaf hash', async (t) => {
  const expected =
    '{"action":"exported","actorId":"u_9","at":"2025-03-01T12:00:00.000Z","caseId":"c_01",' +
    `"details":{"exportId":"x_1","note":"Zoë €"},"evidenceId":"ev_42","evidenceSha256":"${'ab'.repeat(32)}",` +
    '"seq":7,"v":1}';
  t.equal(encodeEntry(sample).toString('utf8'), expected);
  const leaf = createHash('sha256').update(Buffer.concat([Buffer.of(0), Buffer.from(expected, 'utf8')])).digest();
  t.same(entryLeafHash(sample), leaf);
  const reordered = Object.fromEntries(Object.entries(sample).reverse()) as CustodyEntry;
  t.same(entryLeafHash(reordered), leaf, 'key order does not matter');
  t.same(entryLeafHash({ ...sample, actorId: null }).length, 32, 'a null actor is allowed');
  t.equal(encodeEntry({ ...sample, at: '2025-03-01T12:00:00Z' }).includes('"at":"2025-03-01T12:00:00Z"'), true);
});

t.test('malformed entries are refused', async (t) => {
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    [[], /not an object/],
    [new Date(), /not an object/],
    [{ ...sample, extra: 1 }, /unexpected field "extra"/],
    [{ ...sample, v: 2 }, /v must be 1/],
    [{ ...sample, caseId: '' }, /caseId/],
    [{ ...sample, seq: -1 }, /seq/],
    [{ ...sample, seq: 1.5 }, /seq/],
    [{ ...sample, seq: '7' }, /seq/],
    [{ ...sample, evidenceId: 3 }, /evidenceId/],
    [{ ...sample, evidenceSha256: 'AB'.repeat(32) }, /evidenceSha256/],
    [{ ...sample, evidenceSha256: 'ab' }, /evidenceSha256/],
    [{ ...sample, action: '' }, /action/],
    [{ ...sample, actorId: '' }, /actorId/],
    [{ ...sample, actorId: undefined }, /actorId/],
    [{ ...sample, at: '2025-03-01 12:00:00' }, /at must/],
    [{ ...sample, at: new Date() }, /at must/],
    [{ ...sample, at: '2025-13-45T12:00:00Z' }, /at must/],
    [{ ...sample, details: [] }, /details/],
    [{ ...sample, details: null }, /details/],
  ];
  for (const [value, message] of bad) {
    t.throws(() => assertCustodyEntry(value), { name: 'CustodyEntryError', message }, String(message));
  }
  t.throws(() => encodeEntry({ ...sample, v: 2 } as never), CustodyEntryError);
  t.throws(() => encodeEntry({ ...sample, details: { n: NaN } }), { name: 'CanonicalJsonError' });
  t.doesNotThrow(() => assertCustodyEntry(sample));
});
