// Concurrent appends (one client and two "instances"), the queue and its sequencer, checkpoints
// checked by the real openssl, proofs checked by src/custody's verifiers, and a row altered behind
// the service's back.
import t from 'tap';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { canonicalize, leafHash, parseCheckpoint, rootFromLeaves, verifyCheckpoint, verifyConsistency, verifyInclusion } from '../../src/custody/index.ts';
import { createDatabaseClient } from '../../src/database/client.ts';
import {
  afterCommitIntegrate,
  appendCustodyEntry,
  appendCustodyEvent,
  CustodyAppendError,
  integrateCustodyQueue,
  integratedLog,
  INTEGRATION_BATCH,
} from '../../src/modules/custody/custody.append.ts';
import { signCheckpoint } from '../../src/modules/custody/checkpoints.ts';
import { createTestContext } from '../helpers/app.ts';
import { insertEvidence } from './factory.ts';

const ctx = await createTestContext(t);
const testCase = await ctx.createCase();
const lead = testCase.users.lead;
const evidence = await insertEvidence(ctx.db, testCase.id, testCase.users.investigator.id);
const base = `/api/v1/cases/${testCase.id}/custody`;

async function storedLeaves(caseId: string) {
  const rows = await ctx.db.custodyEntry.findMany({ where: { caseId }, orderBy: { seq: 'asc' }, select: { seq: true, leafHash: true } });
  return { seqs: rows.map((r) => Number(r.seq)), leaves: rows.map((r) => Buffer.from(r.leafHash)) };
}

async function storedRoot(caseId: string) {
  const log = await ctx.db.custodyLog.findUniqueOrThrow({ where: { caseId } });
  return { size: Number(log.size), root: Buffer.from(log.rootHash) };
}

t.test('50 parallel appends through the API: seq 0..49, a valid tree, a verifying checkpoint', async (t) => {
  const users = [testCase.users.lead, testCase.users.investigator, testCase.users.reviewer];
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      ctx.json(users[i % 3]!, 'POST', `/api/v1/evidence/${evidence.id}/custody`, { action: 'analysed', note: `pass ${i}` }),
    ),
  );
  t.same(results.map((r) => r.status), Array(50).fill(201));
  t.same(results.map((r) => r.body.seq).sort((a, b) => a - b), [...Array(50).keys()]);
  const { seqs, leaves } = await storedLeaves(testCase.id);
  t.same(seqs, [...Array(50).keys()]);
  const stored = await storedRoot(testCase.id);
  t.equal(stored.size, 50);
  t.ok(rootFromLeaves(leaves).equals(stored.root), 'the stored root is the Merkle tree hash of the stored leaves');

  const note = (await ctx.inject(lead, { method: 'GET', url: `${base}/checkpoint` })).body;
  const parsed = parseCheckpoint(note);
  t.equal(parsed.size, 50);
  t.ok(parsed.rootHash.equals(stored.root));
  t.ok(verifyCheckpoint(note, ctx.keys.signing.publicKey, ctx.keys.signing.name));
  const verify = await ctx.json(lead, 'GET', `${base}/verify`);
  t.same(verify.body, { valid: true, size: 50, rootHash: stored.root.toString('hex'), checkpoint: note });
});

t.test('two service instances (two database clients) appending at once stay gapless', async (t) => {
  const testCase2 = await ctx.createCase();
  const item = await insertEvidence(ctx.db, testCase2.id, testCase2.users.lead.id);
  const instances = [createDatabaseClient(ctx.database.url, 4), createDatabaseClient(ctx.database.url, 4)];
  t.teardown(() => Promise.all(instances.map((db) => db.$disconnect())));
  const queued = await Promise.all(
    Array.from({ length: 60 }, async (_, i) => {
      const db = instances[i % 2]!;
      const entry = await db.$transaction((tx) =>
        appendCustodyEntry(tx, { caseId: testCase2.id, evidenceId: item.id, evidenceSha256: item.sha256, action: 'accessed', actorId: null, details: { instance: i % 2, i } }),
        { maxWait: 20_000, timeout: 20_000 },
      );
      await integrateCustodyQueue(db, testCase2.id);
      return entry.queueId;
    }),
  );
  const { seqs, leaves } = await storedLeaves(testCase2.id);
  t.same(seqs, [...Array(60).keys()]);
  t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase2.id } }), 0, 'nothing left queued');
  const integrated = await ctx.db.custodyEntry.findMany({ where: { caseId: testCase2.id }, select: { queueId: true, entry: true } });
  t.same(integrated.map((e) => Number(e.queueId)).sort((a, b) => a - b), queued.slice().sort((a, b) => a - b), 'each queued event once');
  t.same(integrated.map((e) => JSON.parse(e.entry).details.i).sort((a, b) => a - b), [...Array(60).keys()]);
  const stored = await storedRoot(testCase2.id);
  t.ok(rootFromLeaves(leaves).equals(stored.root));
  const verify = await ctx.json(testCase2.users.counsel, 'GET', `/api/v1/cases/${testCase2.id}/custody/verify`);
  t.equal(verify.body.valid, true);
  t.equal(verify.body.size, 60);
});

t.test('direct and queued appends from two instances at once: gapless, each answered with its own entry', async (t) => {
  const testCase3 = await ctx.createCase();
  const item = await insertEvidence(ctx.db, testCase3.id, testCase3.users.lead.id);
  const stranger = await insertEvidence(ctx.db, testCase3.otherCaseId, testCase3.users.outsider.id);
  const instances = [createDatabaseClient(ctx.database.url, 4), createDatabaseClient(ctx.database.url, 4)];
  t.teardown(() => Promise.all(instances.map((db) => db.$disconnect())));
  const event = (i: number) => ({ caseId: testCase3.id, evidenceId: item.id, evidenceSha256: item.sha256, action: 'note' as const, actorId: null, details: { i } });
  const answers = await Promise.all(
    Array.from({ length: 90 }, async (_, i) => {
      const db = instances[i % 2]!;
      if (i % 3 === 0) {
        await db.$transaction((tx) => appendCustodyEntry(tx, event(i)));
        await integrateCustodyQueue(db, testCase3.id);
        return null;
      }
      if (i === 50) {
        // Joins a batch with others: refused alone, the others still land.
        await t.rejects(appendCustodyEvent(db, { ...event(i), evidenceId: stranger.id, evidenceSha256: stranger.sha256 }), CustodyAppendError);
        return null;
      }
      const audit = { actorId: null, action: 'custody.append', outcome: 'success' as const, caseId: testCase3.id, targetId: item.id, details: { i } };
      return appendCustodyEvent(db, event(i), audit);
    }),
  );
  const { seqs, leaves } = await storedLeaves(testCase3.id);
  t.same(seqs, [...Array(89).keys()], 'every event but the refused one, gapless');
  const rows = await ctx.db.custodyEntry.findMany({ where: { caseId: testCase3.id }, select: { seq: true, entry: true } });
  const bySeq = new Map(rows.map((r) => [Number(r.seq), r.entry]));
  for (const answer of answers) {
    if (answer) t.equal(canonicalize(answer.entry), bySeq.get(answer.seq), `seq ${answer.seq} is the entry answered`);
  }
  t.same(rows.map((r) => JSON.parse(r.entry).details.i).sort((a, b) => a - b), [...Array(90).keys()].filter((i) => i !== 50));
  const audits = await ctx.db.auditEntry.findMany({ where: { caseId: testCase3.id, action: 'custody.append' } });
  t.equal(audits.length, 59, 'one audit entry per direct append, written with it');
  for (const entry of audits) {
    const { i, seq } = entry.details as { i: number; seq: number };
    t.equal(JSON.parse(bySeq.get(seq)!).details.i, i, 'the audit entry names the seq of its event');
  }
  t.ok(rootFromLeaves(leaves).equals((await storedRoot(testCase3.id)).root));
  t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase3.id } }), 0);
});

t.test('a direct append that cannot be written fails alone and leaves the log as it was; the next one lands', async (t) => {
  const testCase5 = await ctx.createCase();
  const item = await insertEvidence(ctx.db, testCase5.id, testCase5.users.lead.id);
  const event = { caseId: testCase5.id, evidenceId: item.id, evidenceSha256: item.sha256, action: 'note' as const, actorId: null, details: { n: 1 } };
  await t.rejects(appendCustodyEvent(ctx.db, { ...event, details: { n: Number.NaN } }), /not finite/, 'an entry that cannot be encoded, before any batch');
  // The batch transaction fails (an audit row the table refuses): nothing of it stays.
  const refusedAudit = { actorId: null, action: 'custody.append', outcome: 'not-an-outcome' as 'success', caseId: testCase5.id };
  await t.rejects(appendCustodyEvent(ctx.db, event, refusedAudit), 'the caller hears of the failure');
  t.equal(await ctx.db.custodyEntry.count({ where: { caseId: testCase5.id } }), 0, 'no entry');
  t.equal(await ctx.db.auditEntry.count({ where: { caseId: testCase5.id, action: 'custody.append' } }), 0, 'no audit entry');
  const log = await ctx.db.custodyLog.findUnique({ where: { caseId: testCase5.id } });
  t.equal(log === null ? 0 : Number(log.size), 0, 'the tree did not move');
  const next = await appendCustodyEvent(ctx.db, event);
  t.equal(next.seq, 0, 'the sequencer goes on: the next event takes seq 0');
});

t.test('an append naming an item of another case, or the wrong hash, is refused and leaves nothing', async (t) => {
  const other = await insertEvidence(ctx.db, testCase.otherCaseId, testCase.users.outsider.id);
  const before = await storedRoot(testCase.id);
  await t.rejects(
    ctx.db.$transaction((tx) => appendCustodyEntry(tx, { caseId: testCase.id, evidenceId: other.id, evidenceSha256: other.sha256, action: 'accessed', actorId: null })),
    CustodyAppendError,
  );
  await t.rejects(
    ctx.db.$transaction((tx) => appendCustodyEntry(tx, { caseId: testCase.id, evidenceId: evidence.id, evidenceSha256: 'a'.repeat(64), action: 'accessed', actorId: null })),
    CustodyAppendError,
  );
  await t.rejects(
    ctx.db.$transaction((tx) =>
      appendCustodyEntry(tx, { caseId: testCase.id, evidenceId: evidence.id, evidenceSha256: evidence.sha256, action: 'accessed', actorId: null, details: { n: Number.NaN } }),
    ),
    /not finite/,
    'an entry that cannot be encoded is refused before it is queued',
  );
  t.same(await storedRoot(testCase.id), before);
  t.equal(await ctx.db.custodyEntry.count({ where: { caseId: testCase.id } }), before.size);
  t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase.id } }), 0);
});

t.test('the queue and its sequencer', async (t) => {
  const testCase4 = await ctx.createCase();
  const item = await insertEvidence(ctx.db, testCase4.id, testCase4.users.lead.id);
  const reader = testCase4.users.reviewer;
  const caseLog = `/api/v1/cases/${testCase4.id}/custody`;
  const queue = (details: Record<string, string | number>) =>
    ctx.db.$transaction((tx) =>
      appendCustodyEntry(tx, { caseId: testCase4.id, evidenceId: item.id, evidenceSha256: item.sha256, action: 'accessed', actorId: reader.id, details }),
    );

  await t.test('an event of a rolled-back transaction never appears', async (t) => {
    await t.rejects(
      ctx.db.$transaction(async (tx) => {
        await appendCustodyEntry(tx, { caseId: testCase4.id, evidenceId: item.id, evidenceSha256: item.sha256, action: 'accessed', actorId: null, details: { lost: 1 } });
        throw new Error('the change it records failed');
      }),
      /the change it records failed/,
    );
    t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase4.id } }), 0);
    await integrateCustodyQueue(ctx.db, testCase4.id);
    t.equal(await ctx.db.custodyEntry.count({ where: { caseId: testCase4.id } }), 0, 'nothing to integrate');
    const log = await ctx.json(reader, 'GET', caseLog);
    t.same(log.body.items, []);
  });

  await t.test('a queued event left behind (a crash before integration) appears at the next read', async (t) => {
    const queued = await queue({ left: 'behind' });
    t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase4.id } }), 1);
    t.equal(await ctx.db.custodyEntry.count({ where: { caseId: testCase4.id } }), 0, 'not integrated yet');
    const log = await ctx.json(reader, 'GET', caseLog);
    t.equal(log.status, 200);
    t.equal(log.body.items.length, 1);
    t.same(log.body.items[0].entry.details, { left: 'behind' });
    t.equal(log.body.items[0].seq, 0);
    const row = await ctx.db.custodyEntry.findFirstOrThrow({ where: { caseId: testCase4.id } });
    t.equal(Number(row.queueId), queued.queueId);
    t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase4.id } }), 0);

    await queue({ via: 'item log' });
    const itemLog = await ctx.json(reader, 'GET', `/api/v1/evidence/${item.id}/custody`);
    t.same(itemLog.body.items.map((i: { seq: number }) => i.seq), [0, 1], 'the item log integrates too');
    for (const path of ['checkpoint', 'proof?seq=0', 'consistency?from=1', 'verify']) {
      await queue({ via: path });
      const before = await ctx.db.custodyEntry.count({ where: { caseId: testCase4.id } });
      const res = await ctx.inject(reader, { method: 'GET', url: `${caseLog}/${path}` });
      t.equal(res.statusCode, 200, path);
      t.equal(await ctx.db.custodyEntry.count({ where: { caseId: testCase4.id } }), before + 1, `${path} integrates first`);
    }
    const state = await integratedLog(ctx.db, testCase4.id);
    t.equal(state.size, 6);
    t.ok(state.rootHash.equals((await storedRoot(testCase4.id)).root));
  });

  await t.test('afterCommitIntegrate integrates, and never throws', async (t) => {
    await queue({ after: 'commit' });
    await afterCommitIntegrate(ctx.db, testCase4.id);
    t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase4.id } }), 0);
    const warnings: unknown[] = [];
    await afterCommitIntegrate(ctx.db, 'not-a-case-id', { warn: (obj) => warnings.push(obj) });
    t.equal(warnings.length, 1, 'a failure is a warning for the caller to log');
    t.notMatch(JSON.stringify(warnings), /not-a-case-id.*syntax|SELECT/, 'no SQL in the warning');
  });

  await t.test('10,000 queued events integrate in batches into the tree of their leaves', async (t) => {
    const size = (await storedRoot(testCase4.id)).size;
    const count = 10_000;
    await ctx.db.$executeRaw`
      INSERT INTO custody_queue (case_id, evidence_id, evidence_sha256, action, actor_id, at, details)
      SELECT ${testCase4.id}::uuid, ${item.id}::uuid, ${item.sha256}, 'accessed', NULL,
             timestamptz '2026-01-01T00:00:00Z' + i * interval '1 millisecond', '{"i":' || i || '}'
        FROM generate_series(0, ${count - 1}) AS i`;
    t.ok(count > INTEGRATION_BATCH, 'more than one batch');
    await integrateCustodyQueue(ctx.db, testCase4.id);
    t.equal(await ctx.db.custodyQueue.count({ where: { caseId: testCase4.id } }), 0, 'every batch integrated');
    const rows = await ctx.db.custodyEntry.findMany({ where: { caseId: testCase4.id }, orderBy: { seq: 'asc' }, select: { seq: true, entry: true, leafHash: true, queueId: true } });
    t.equal(rows.length, size + count);
    t.ok(rows.every((r, i) => Number(r.seq) === i), 'gapless');
    const added = rows.slice(size);
    t.ok(added.every((r, i) => JSON.parse(r.entry).details.i === i), 'in queue order');
    t.ok(added.every((r) => leafHash(Buffer.from(r.entry, 'utf8')).equals(Buffer.from(r.leafHash))), 'every leaf hash is the hash of its entry');
    const stored = await storedRoot(testCase4.id);
    t.equal(stored.size, size + count);
    t.ok(rootFromLeaves(rows.map((r) => Buffer.from(r.leafHash))).equals(stored.root), 'the stored root is the Merkle tree hash of the stored leaves');
    const verify = await ctx.json(reader, 'GET', `${caseLog}/verify`);
    t.equal(verify.body.valid, true);
    t.equal(verify.body.size, size + count);
  });
});

t.test('two concurrent checkpoint requests at one size store one checkpoint', async (t) => {
  await ctx.json(lead, 'POST', `/api/v1/evidence/${evidence.id}/custody`, { action: 'note', note: 'grow' });
  const { size } = await storedRoot(testCase.id);
  const [a, b, c] = await Promise.all([
    ctx.inject(lead, { method: 'GET', url: `${base}/checkpoint` }),
    ctx.inject(testCase.users.counsel, { method: 'GET', url: `${base}/checkpoint` }),
    signCheckpoint(ctx.db, ctx.keys, ctx.config, testCase.id),
  ]);
  t.equal(a.body, b.body);
  t.equal(a.body, c.note);
  t.equal(c.size, size);
  t.equal(c.signature.length, 64);
  t.equal(c.body, a.body.split('\n\n')[0] + '\n');
  t.equal(await ctx.db.custodyCheckpoint.count({ where: { caseId: testCase.id, size: BigInt(size) } }), 1);
});

t.test('a checkpoint from the API verifies with openssl, and fails after a flipped byte', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-openssl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const keys = await ctx.json(null, 'GET', '/api/v1/custody/keys');
  const pem = keys.body.keys.find((k: { status: string }) => k.status === 'current').publicKeyPem;
  const note = (await ctx.inject(testCase.users.reviewer, { method: 'GET', url: `${base}/checkpoint` })).body;
  const lines = note.split('\n');
  const body = lines.slice(0, 3).join('\n') + '\n';
  const signatureLine = lines.find((l: string) => l.startsWith('\u2014 '))!;
  const signature = Buffer.from(signatureLine.split(' ')[2]!, 'base64').subarray(4);
  t.equal(signature.length, 64);
  await writeFile(join(dir, 'pub.pem'), pem);
  await writeFile(join(dir, 'body'), body);
  await writeFile(join(dir, 'sig'), signature);
  const openssl = () =>
    execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-in', 'body', '-sigfile', 'sig'], { cwd: dir, stdio: 'pipe' }).toString();
  t.match(openssl(), /Signature Verified Successfully/);
  const flipped = Buffer.from(body);
  flipped[flipped.length - 5]! ^= 0x01;
  await writeFile(join(dir, 'body'), flipped);
  t.throws(openssl, 'a flipped byte of the body fails');
  await writeFile(join(dir, 'body'), body);
  const badSig = Buffer.from(signature);
  badSig[10]! ^= 0x80;
  await writeFile(join(dir, 'sig'), badSig);
  t.throws(openssl, 'a flipped bit of the signature fails');
});

t.test('inclusion and consistency proofs from the API verify', async (t) => {
  const { size } = await storedRoot(testCase.id);
  const { leaves } = await storedLeaves(testCase.id);
  for (const treeSize of [1, 2, 3, 7, 8, 13, 32, 50, size]) {
    const root = rootFromLeaves(leaves.slice(0, treeSize));
    for (const seq of [0, Math.floor(treeSize / 2), treeSize - 1]) {
      const res = await ctx.json(testCase.users.counsel, 'GET', `${base}/proof?seq=${seq}&size=${treeSize}`);
      t.equal(res.status, 200);
      t.equal(res.body.rootHash, root.toString('hex'));
      t.equal(res.body.leafHash, leaves[seq]!.toString('hex'));
      const proof = res.body.proof.map((h: string) => Buffer.from(h, 'hex'));
      t.ok(verifyInclusion(seq, treeSize, leaves[seq]!, proof, root), `inclusion ${seq} in ${treeSize}`);
      if (proof.length > 0) {
        proof[0][0] ^= 1;
        t.notOk(verifyInclusion(seq, treeSize, leaves[seq]!, proof, root), 'a flipped proof fails');
      }
    }
  }
  for (const [from, to] of [[1, 2], [1, 8], [3, 7], [4, 8], [7, 50], [13, size], [size, size]] as const) {
    const res = await ctx.json(lead, 'GET', `${base}/consistency?from=${from}&to=${to}`);
    t.equal(res.status, 200);
    const fromRoot = rootFromLeaves(leaves.slice(0, from));
    const toRoot = rootFromLeaves(leaves.slice(0, to));
    t.same([res.body.fromRoot, res.body.toRoot], [fromRoot.toString('hex'), toRoot.toString('hex')]);
    const proof = res.body.proof.map((h: string) => Buffer.from(h, 'hex'));
    t.ok(verifyConsistency(from, to, fromRoot, toRoot, proof), `consistency ${from}..${to}`);
    if (proof.length > 0) t.notOk(verifyConsistency(from, to, fromRoot, rootFromLeaves(leaves.slice(0, to - 1)), proof));
  }
});

t.test('an entry altered behind the service is found by verify', async (t) => {
  const before = await ctx.json(lead, 'GET', `${base}/verify`);
  t.equal(before.body.valid, true);
  const target = 17;
  const row = await ctx.db.custodyEntry.findUniqueOrThrow({ where: { caseId_seq: { caseId: testCase.id, seq: BigInt(target) } } });
  const altered = row.entry.replace(/"note":"pass \d+"/, '"note":"nothing happened"');
  t.not(altered, row.entry);
  await ctx.db.$transaction([
    ctx.db.$executeRawUnsafe('ALTER TABLE custody_entries DISABLE TRIGGER USER'),
    ctx.db.$executeRaw`UPDATE custody_entries SET entry = ${altered} WHERE case_id = ${testCase.id}::uuid AND seq = ${target}`,
    ctx.db.$executeRawUnsafe('ALTER TABLE custody_entries ENABLE TRIGGER USER'),
  ]);
  await t.rejects(ctx.db.$executeRaw`UPDATE custody_entries SET entry = 'x' WHERE case_id = ${testCase.id}::uuid AND seq = 0`, 'the trigger is back');

  const after = await ctx.json(testCase.users.reviewer, 'GET', `${base}/verify`);
  t.equal(after.status, 200);
  t.equal(after.body.valid, false);
  t.equal(after.body.firstBadSeq, target);
  t.equal(after.body.checkpoint, before.body.checkpoint, 'no new checkpoint over a bad log');
  t.ok(verifyCheckpoint(after.body.checkpoint, createPublicKey(ctx.keys.signing.publicKeyPem)), 'the earlier checkpoint still stands');
});

t.test('an entry deleted behind the service is found by verify', async (t) => {
  const testCase3 = await ctx.createCase();
  const item = await insertEvidence(ctx.db, testCase3.id, testCase3.users.lead.id);
  for (let i = 0; i < 5; i++) {
    await ctx.json(testCase3.users.lead, 'POST', `/api/v1/evidence/${item.id}/custody`, { action: 'note', note: String(i) });
  }
  await ctx.db.$transaction([
    ctx.db.$executeRawUnsafe('ALTER TABLE custody_entries DISABLE TRIGGER USER'),
    ctx.db.$executeRaw`DELETE FROM custody_entries WHERE case_id = ${testCase3.id}::uuid AND seq = 3`,
    ctx.db.$executeRawUnsafe('ALTER TABLE custody_entries ENABLE TRIGGER USER'),
  ]);
  const verify = await ctx.json(testCase3.users.lead, 'GET', `/api/v1/cases/${testCase3.id}/custody/verify`);
  t.equal(verify.body.valid, false);
  t.equal(verify.body.firstBadSeq, 3);
  t.equal(verify.body.checkpoint, null, 'never checkpointed, and not now');
  const proof = await ctx.json(testCase3.users.lead, 'GET', `/api/v1/cases/${testCase3.id}/custody/proof?seq=0`);
  t.equal(proof.status, 500, 'no proof over a log with a hole');
  t.equal(proof.body.code, 'internal');
});
