// Four-eyes reviews: role matrix, the submitter refused, integrity re-hash, reviewStatus.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, open } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor, type RoleName } from '../helpers/app.ts';
import { upload } from '../evidence/helpers.ts';

const REVIEW = { decision: 'verified', notes: 'Matches the original device export.', checks: [{ name: 'hash', result: 'passed' }, { name: 'geolocation', result: 'inconclusive', note: 'no landmarks' }] };

const CREATE: Record<RoleName, number> = { anonymous: 401, admin: 404, lead: 201, investigator: 403, reviewer: 201, counsel: 403, observer: 403, outsider: 404 };
const READ: Record<RoleName, number> = { anonymous: 401, admin: 404, lead: 200, investigator: 200, reviewer: 200, counsel: 200, observer: 404, outsider: 404 };

t.test('reviews', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator, lead, reviewer } = testCase.users;
  const data = randomBytes(5000);
  const item = await upload(ctx, investigator, testCase.id, data);
  const id = item.body.id as string;

  await t.test('role matrix', async (t) => {
    for (const role of ALL_ROLE_NAMES) {
      const user = userFor(testCase, role);
      const created = await ctx.json(user, 'POST', `/api/v1/evidence/${id}/reviews`, REVIEW);
      t.equal(created.status, CREATE[role], `POST as ${role}: ${created.body?.detail ?? ''}`);
      t.equal((await ctx.json(user, 'GET', `/api/v1/evidence/${id}/reviews`)).status, READ[role], `GET as ${role}`);
    }
    const foreign = await upload(ctx, testCase.users.outsider, testCase.otherCaseId, randomBytes(10));
    t.equal((await ctx.json(lead, 'POST', `/api/v1/evidence/${foreign.body.id}/reviews`, REVIEW)).status, 404);
    t.equal((await ctx.json(reviewer, 'GET', `/api/v1/evidence/${foreign.body.id}/reviews`)).status, 404);
  });

  await t.test('four eyes: the submitter may not review, whatever their role', async (t) => {
    const own = await upload(ctx, lead, testCase.id, randomBytes(64));
    const res = await ctx.json(lead, 'POST', `/api/v1/evidence/${own.body.id}/reviews`, REVIEW);
    t.equal(res.status, 403);
    t.equal(res.body.code, 'forbidden');
    t.equal(await ctx.db.review.count({ where: { evidenceId: own.body.id } }), 0);
    t.equal(await ctx.db.auditEntry.count({ where: { action: 'evidence.review', outcome: 'denied', targetId: own.body.id } }), 1);
    t.equal((await ctx.json(reviewer, 'POST', `/api/v1/evidence/${own.body.id}/reviews`, REVIEW)).status, 201, 'someone else may');
  });

  await t.test('a review records the integrity check, in the review and the custody log', async (t) => {
    const res = await ctx.json(reviewer, 'POST', `/api/v1/evidence/${id}/reviews`, { ...REVIEW, decision: 'disputed' });
    t.equal(res.status, 201);
    t.same(res.body.integrity, { sha256: createHash('sha256').update(data).digest('hex'), matches: true });
    t.equal(res.body.reviewerId, reviewer.id);
    t.same(res.body.checks, REVIEW.checks);
    const evidence = await ctx.json(reviewer, 'GET', `/api/v1/evidence/${id}`);
    t.equal(evidence.body.reviewStatus, 'disputed', 'follows the latest decision');
    const entry = await ctx.db.custodyEntry.findFirst({ where: { evidenceId: id, action: 'reviewed' }, orderBy: { seq: 'desc' } });
    t.same(JSON.parse(entry!.entry).details, { reviewId: res.body.id, decision: 'disputed', integrity: res.body.integrity });
    const list = await ctx.json(reviewer, 'GET', `/api/v1/evidence/${id}/reviews?limit=1`);
    t.equal(list.body.items[0].id, res.body.id, 'newest first');
    t.type(list.body.nextCursor, 'string');
    const next = await ctx.json(reviewer, 'GET', `/api/v1/evidence/${id}/reviews?limit=1&cursor=${list.body.nextCursor}`);
    t.equal(next.status, 200);
    t.not(next.body.items[0].id, res.body.id);
  });

  await t.test('bad input is a 400 and writes nothing', async (t) => {
    const before = await ctx.db.review.count();
    for (const body of [
      {},
      { ...REVIEW, decision: 'great' },
      { ...REVIEW, notes: 5 },
      { ...REVIEW, checks: [{ name: 'x', result: 'maybe' }] },
      { ...REVIEW, checks: [{ name: '', result: 'passed' }] },
      { ...REVIEW, checks: [{ name: 'x', result: 'passed', extra: 1 }] },
      { ...REVIEW, integrity: { sha256: 'a'.repeat(64), matches: true } },
      { ...REVIEW, notes: 'x'.repeat(30_000) },
    ]) {
      const res = await ctx.json(reviewer, 'POST', `/api/v1/evidence/${id}/reviews`, body);
      t.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    }
    t.equal((await ctx.json(reviewer, 'POST', '/api/v1/evidence/not-a-uuid/reviews', REVIEW)).status, 400);
    t.equal((await ctx.json(reviewer, 'GET', `/api/v1/evidence/${id}/reviews?cursor=zzz`)).status, 400);
    t.equal(await ctx.db.review.count(), before);
  });

  await t.test('a flipped byte in the stored blob: the next review records the mismatch', async (t) => {
    const sha256 = item.body.sha256 as string;
    const path = join(ctx.dataDir, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
    await chmod(path, 0o600);
    const handle = await open(path, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 1234);
    byte[0] = byte[0]! ^ 0x01;
    await handle.write(byte, 0, 1, 1234);
    await handle.close();

    const res = await ctx.json(lead, 'POST', `/api/v1/evidence/${id}/reviews`, REVIEW);
    t.equal(res.status, 201);
    t.equal(res.body.integrity.matches, false);
    t.not(res.body.integrity.sha256, sha256);
    const evidence = await ctx.json(reviewer, 'GET', `/api/v1/evidence/${id}`);
    t.equal(evidence.body.reviewStatus, 'integrity_failed');
    const entry = await ctx.db.custodyEntry.findFirst({ where: { evidenceId: id, action: 'reviewed' }, orderBy: { seq: 'desc' } });
    t.same(JSON.parse(entry!.entry).details.integrity, res.body.integrity);
    t.equal(await ctx.db.auditEntry.count({ where: { action: 'evidence.integrity_failed', targetId: id } }), 1);
    const listed = await ctx.json(reviewer, 'GET', `/api/v1/cases/${testCase.id}/evidence?reviewStatus=integrity_failed`);
    t.same(listed.body.items.map((i: any) => i.id), [id]);

    // A later matching review does not clear it (restore the byte first).
    const fix = await open(path, 'r+');
    byte[0] = byte[0]! ^ 0x01;
    await fix.write(byte, 0, 1, 1234);
    await fix.close();
    const later = await ctx.json(reviewer, 'POST', `/api/v1/evidence/${id}/reviews`, REVIEW);
    t.equal(later.body.integrity.matches, true);
    t.equal((await ctx.json(reviewer, 'GET', `/api/v1/evidence/${id}`)).body.reviewStatus, 'integrity_failed', 'integrity_failed wins');
  });
});
