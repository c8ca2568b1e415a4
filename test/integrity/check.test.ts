// `custodia check`'s work, in process: every stored blob re-hashed against what was recorded,
// every custody log recomputed, problems named by ids and hashes only, and nothing written.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmod, open, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { type CheckReport, checkAndRecord, checkHoldings, describeProblem, runIntegrityCheck } from '../../src/modules/integrity/integrity.check.ts';
import { RECORDED_PROBLEMS_MAX, lastCheck, recordCheck } from '../../src/modules/integrity/integrity.history.ts';
import { createMetrics, watchIntegrity } from '../../src/http/metrics.ts';
import { checkStoredBlobs } from '../../src/modules/evidence/evidence.fixity.ts';
import { FilesystemBlobStore } from '../../src/storage/index.ts';
import { createTestContext, type TestContext } from '../helpers/app.ts';
import { metadata, upload } from '../evidence/helpers.ts';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function blobPath(ctx: TestContext, sha256: string): string {
  return join(ctx.dataDir, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

async function flipByte(path: string, position: number): Promise<Buffer> {
  await chmod(path, 0o600);
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, position);
    byte[0] = byte[0]! ^ 0x01;
    await handle.write(byte, 0, 1, position);
    const { size } = await handle.stat();
    const all = Buffer.alloc(size);
    await handle.read(all, 0, size, 0);
    return all;
  } finally {
    await handle.close();
  }
}

async function writes(ctx: TestContext) {
  const [checkpoints, entries, queued, reviews, audit] = await Promise.all([
    ctx.db.custodyCheckpoint.count(),
    ctx.db.custodyEntry.count(),
    ctx.db.custodyQueue.count(),
    ctx.db.review.count(),
    ctx.db.auditEntry.count(),
  ]);
  return { checkpoints, entries, queued, reviews, audit };
}

t.test('custodia check: intact, then a flipped byte, a truncated file, a missing one and an altered custody entry', async (t) => {
  const ctx = await createTestContext(t);
  const first = await ctx.createCase();
  const second = await ctx.createCase();
  const shared = randomBytes(300_000);
  const other = randomBytes(70_000);
  const small = randomBytes(5_000);
  const title = 'Secret title of a witness video';
  const a = await upload(ctx, first.users.investigator, first.id, shared, { metadata: await metadata({ title }) });
  const b = await upload(ctx, second.users.investigator, second.id, shared, { metadata: await metadata({ title }) });
  const c = await upload(ctx, first.users.investigator, first.id, other, { metadata: await metadata({ title }) });
  const d = await upload(ctx, first.users.lead, first.id, small, { metadata: await metadata({ title }) });
  const empty = await upload(ctx, first.users.lead, first.id, Buffer.alloc(0));
  for (const response of [a, b, c, d, empty]) t.equal(response.status, 201);
  const cases = await ctx.db.case.count();
  const before = await writes(ctx);

  const lines: string[] = [];
  const intact = await checkHoldings({ db: ctx.db, config: ctx.config }, { onProblem: (problem) => lines.push(describeProblem(problem)) });
  t.equal(intact.intact, true);
  t.same(intact.blobs, { checked: 4, bytesRead: shared.length + other.length + small.length, problems: [] }, 'each blob once, shared or not');
  t.same(intact.custody, { cases, problems: [] });
  t.same(lines, []);

  const flipped = await flipByte(blobPath(ctx, sha(shared)), 12_345);
  await truncate(blobPath(ctx, sha(other)), 1000);
  await rm(blobPath(ctx, sha(small)));
  const row = await ctx.db.custodyEntry.findFirstOrThrow({ where: { caseId: second.id }, orderBy: { seq: 'desc' } });
  const altered = row.entry.replace('"collected"', '"transferred"');
  t.not(altered, row.entry);
  await ctx.db.$transaction([
    ctx.db.$executeRawUnsafe('ALTER TABLE custody_entries DISABLE TRIGGER USER'),
    ctx.db.$executeRaw`UPDATE custody_entries SET entry = ${altered} WHERE case_id = ${second.id}::uuid AND seq = ${row.seq}`,
    ctx.db.$executeRawUnsafe('ALTER TABLE custody_entries ENABLE TRIGGER USER'),
  ]);

  const report = await checkHoldings({ db: ctx.db, config: ctx.config }, { onProblem: (problem) => lines.push(describeProblem(problem)) });
  t.equal(report.intact, false);
  t.equal(report.blobs.checked, 4);
  const bySha = new Map(report.blobs.problems.map((problem) => [problem.sha256, problem]));
  t.same(bySha.get(sha(shared)), {
    sha256: sha(shared),
    problem: 'bytes_differ',
    found: { sha256: sha(flipped), sizeBytes: shared.length },
    evidence: [{ id: a.body.id, caseId: first.id }, { id: b.body.id, caseId: second.id }].sort((x, y) => x.id.localeCompare(y.id)),
  }, 'a flipped byte: the hash found, and every item recorded with those bytes');
  t.same(bySha.get(sha(other)), { sha256: sha(other), problem: 'size_differs', found: { sizeBytes: 1000 }, evidence: [{ id: c.body.id, caseId: first.id }] });
  t.same(bySha.get(sha(small)), { sha256: sha(small), problem: 'missing', evidence: [{ id: d.body.id, caseId: first.id }] });
  t.equal(report.blobs.problems.length, 3, 'the empty blob is intact');
  t.same(report.custody.problems, [{ caseId: second.id, size: Number(row.seq) + 1, firstBadSeq: Number(row.seq), reason: `entry ${row.seq} does not match its stored leaf hash` }]);

  t.equal(lines.length, 4, 'one line per problem');
  t.match(lines.find((line) => line.includes(sha(shared))), new RegExp(`bytes hash to ${sha(flipped)}; recorded for evidence .*${a.body.id}`));
  t.match(lines.find((line) => line.includes(sha(other))), /holds 1000 bytes, not the recorded size/);
  t.match(lines.find((line) => line.includes(sha(small))), /missing from the store/);
  t.match(lines.find((line) => line.startsWith('case ')), new RegExp(`^case ${second.id}: the custody log does not verify from seq ${row.seq}`));
  t.notOk(lines.join('\n').includes(title), 'no title, only ids and hashes');

  t.same(await writes(ctx), before, 'the checks wrote nothing: no checkpoint, entry, review or audit entry');
  const evidence = await ctx.json(first.users.reviewer, 'GET', `/api/v1/evidence/${a.body.id}`);
  t.equal(evidence.body.reviewStatus, 'unreviewed', 'a review, not the check, marks an item');
});

t.test('a blob that cannot be read is reported, and the check goes on', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const unreadable = randomBytes(10_000);
  const fine = randomBytes(20_000);
  for (const data of [unreadable, fine]) t.equal((await upload(ctx, testCase.users.investigator, testCase.id, data)).status, 201);
  class FailingStore extends FilesystemBlobStore {
    override async digest(sha256: string) {
      if (sha256 === sha(unreadable)) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      return super.digest(sha256);
    }
  }
  const report = await checkStoredBlobs({ db: ctx.db, store: new FailingStore(join(ctx.dataDir, 'blobs')) });
  t.equal(report.checked, 2);
  t.equal(report.bytesRead, fine.length);
  t.match(report.problems, [{ sha256: sha(unreadable), problem: 'unreadable', error: 'EIO: i/o error, read' }]);
  t.equal(report.problems.length, 1);
});

t.test('the integrity.check job logs each problem at error level, and its summary', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const data = randomBytes(30_000);
  const item = await upload(ctx, testCase.users.investigator, testCase.id, data, { metadata: await metadata({ title: 'Do not log me' }) });
  t.equal(item.status, 201);
  const logged = () => ctx.logs.map((line) => JSON.parse(line) as Record<string, any>).filter((line) => line.integrity !== undefined || 'blobsChecked' in line);

  const cases = await ctx.db.case.count();
  t.match(await runIntegrityCheck({ db: ctx.db, config: ctx.config, log: ctx.app.log }), { checkId: /^[0-9a-f-]{36}$/, intact: true, blobsChecked: 1, bytesRead: data.length, cases, problems: 0 });
  t.match(logged(), [{ level: 30, intact: true, msg: /all intact$/ }]);

  await rm(blobPath(ctx, sha(data)));
  ctx.logs.length = 0;
  t.match(await runIntegrityCheck({ db: ctx.db, config: ctx.config, log: ctx.app.log }), { intact: false, problems: 1 });
  t.match(logged(), [
    { level: 50, integrity: { kind: 'blob', sha256: sha(data), problem: 'missing', evidence: [{ id: item.body.id, caseId: testCase.id }] }, msg: `blob ${sha(data)}: missing from the store; recorded for evidence ${item.body.id} (case ${testCase.id})` },
    { level: 50, intact: false, problems: 1, msg: /1 problem\(s\)$/ },
  ]);
  t.notOk(ctx.logs.join('\n').includes('Do not log me'), 'ids and hashes only');
});

t.test('each check is recorded, and the metrics read the latest record', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const data = randomBytes(40_000);
  const title = 'Name of a witness in a title';
  const item = await upload(ctx, testCase.users.investigator, testCase.id, data, { metadata: await metadata({ title }) });
  t.equal(item.status, 201);
  const metrics = createMetrics(false);
  watchIntegrity(metrics, () => lastCheck(ctx.db));
  const gauges = async () => {
    const text = await metrics.registry.metrics();
    const read = (name: string) => Number(new RegExp(`^custodia_integrity_check_${name} (\\S+)$`, 'm').exec(text)?.[1]);
    return { finished: read('finished_seconds'), problems: read('problems'), blobs: read('blobs'), bytes: read('bytes') };
  };
  t.same(await gauges(), { finished: NaN, problems: NaN, blobs: NaN, bytes: NaN }, 'NaN before the first check');

  const before = Date.now();
  const intact = await runIntegrityCheck({ db: ctx.db, config: ctx.config, log: ctx.app.log });
  const first = await ctx.db.integrityCheck.findUniqueOrThrow({ where: { id: intact.checkId! } });
  t.match(first, { trigger: 'schedule', blobsChecked: 1, bytesRead: BigInt(data.length), casesChecked: await ctx.db.case.count(), problemCount: 0, problems: [] });
  t.ok(first.startedAt.getTime() >= before - 1000 && first.finishedAt >= first.startedAt, 'when it started and finished');
  t.same(await gauges(), { finished: first.finishedAt.getTime() / 1000, problems: 0, blobs: 1, bytes: data.length });

  await rm(blobPath(ctx, sha(data)));
  const { report, checkId } = await checkAndRecord({ db: ctx.db, config: ctx.config }, 'command');
  t.equal(report.intact, false);
  const second = await ctx.db.integrityCheck.findUniqueOrThrow({ where: { id: checkId! } });
  t.match(second, { trigger: 'command', blobsChecked: 1, bytesRead: 0n, problemCount: 1 });
  t.same(second.problems, [{ kind: 'blob', sha256: sha(data), problem: 'missing', evidence: [{ id: item.body.id, caseId: testCase.id }] }], 'the problem, by ids and hashes');
  t.notOk(JSON.stringify(second.problems).includes(title), 'never what the item describes');
  t.same(await gauges(), { finished: second.finishedAt.getTime() / 1000, problems: 1, blobs: 1, bytes: 0 }, 'the gauges follow the latest check');
  t.same(await lastCheck(ctx.db), { finishedAt: second.finishedAt, blobsChecked: 1, bytesRead: 0, problemCount: 1 });

  const unreadable = createMetrics(false);
  watchIntegrity(unreadable, () => Promise.reject(new Error('the database is down')));
  t.match(await unreadable.registry.metrics(), /^custodia_integrity_check_problems nan$/im, 'NaN when the record cannot be read, and the scrape still answers');
});

t.test('a record keeps the first problems and counts them all', async (t) => {
  const ctx = await createTestContext(t);
  const problems = Array.from({ length: RECORDED_PROBLEMS_MAX + 5 }, (_, i) => ({ sha256: i.toString(16).padStart(64, '0'), problem: 'missing' as const, evidence: [] }));
  const report: CheckReport = { intact: false, blobs: { checked: problems.length, bytesRead: 0, problems }, custody: { cases: 1, problems: [{ caseId: randomUUID(), size: 3, firstBadSeq: 1, reason: 'entry 1 does not match its stored leaf hash' }] } };
  const at = new Date();
  const id = await recordCheck(ctx.db, report, { trigger: 'command', startedAt: at, finishedAt: at });
  const row = await ctx.db.integrityCheck.findUniqueOrThrow({ where: { id } });
  t.equal(row.problemCount, RECORDED_PROBLEMS_MAX + 6);
  t.equal((row.problems as unknown[]).length, RECORDED_PROBLEMS_MAX);
  t.match((row.problems as unknown[])[0], { kind: 'blob', sha256: '0'.repeat(64) });
});

t.test('a check whose record cannot be written still reports, and says so', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const data = randomBytes(20_000);
  t.equal((await upload(ctx, testCase.users.investigator, testCase.id, data)).status, 201);
  // The table gone from under the check (as a database that went away at its end).
  await ctx.db.$executeRawUnsafe('ALTER TABLE integrity_checks RENAME TO integrity_checks_away');
  t.teardown(() => ctx.db.$executeRawUnsafe('ALTER TABLE integrity_checks_away RENAME TO integrity_checks'));
  const result = await runIntegrityCheck({ db: ctx.db, config: ctx.config, log: ctx.app.log });
  t.match(result, { checkId: null, intact: true, blobsChecked: 1, bytesRead: data.length, problems: 0 }, 'the result stands');
  const lines = ctx.logs.map((line) => JSON.parse(line) as Record<string, any>);
  t.match(lines.find((line) => /could not be recorded/.test(line.msg)), { level: 50, err: { message: /integrity_checks/ } }, 'an error says the record is missing');
  t.ok(lines.some((line) => line.intact === true && /all intact$/.test(line.msg)), 'and the summary is logged all the same');
});

t.test('a running check logs how far it has come', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const sizes = [10_000, 20_000, 30_000];
  for (const size of sizes) t.equal((await upload(ctx, testCase.users.investigator, testCase.id, randomBytes(size))).status, 201);
  await runIntegrityCheck({ db: ctx.db, config: ctx.config, log: ctx.app.log, progressEveryMs: 0 });
  const progress = ctx.logs.map((line) => JSON.parse(line) as Record<string, any>).filter((line) => line.progress);
  const total = sizes.reduce((a, b) => a + b, 0);
  t.same(progress.map((line) => [line.level, line.progress.checked, line.progress.blobs, line.progress.bytes]), [
    [30, 1, 3, total],
    [30, 2, 3, total],
  ], 'after each blob but the last (the summary says the rest)');
  t.match(progress[0]!.msg, /^integrity check: 1 of 3 blob\(s\), 0\.00 of 0\.00 GiB$/);

  ctx.logs.length = 0;
  await runIntegrityCheck({ db: ctx.db, config: ctx.config, log: ctx.app.log });
  t.notOk(ctx.logs.some((line) => line.includes('"progress"')), 'by default, once a minute: not in a check this short');
});
