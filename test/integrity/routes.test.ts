// GET /integrity-checks and /integrity-checks/{id}: the record of the checks, for admins only,
// the latest first, paged; one check with the problems it found, by ids and hashes.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, open } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { checkAndRecord, runIntegrityCheck } from '../../src/modules/integrity/integrity.check.ts';
import { encodeCursor } from '../../src/http/pagination.ts';
import { ALL_ROLE_NAMES, type RoleName, createTestContext, userFor } from '../helpers/app.ts';
import { metadata, upload } from '../evidence/helpers.ts';

const API = '/api/v1';
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

t.test('the record of integrity checks: admins only, the latest first, one with its problems', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const admin = testCase.users.admin;
  const title = 'Title that names a witness';
  const data = randomBytes(50_000);
  const item = await upload(ctx, testCase.users.investigator, testCase.id, data, { metadata: await metadata({ title }) });
  t.equal(item.status, 201);

  t.same((await ctx.json(admin, 'GET', `${API}/integrity-checks`)).body, { items: [], nextCursor: null }, 'none before the first check');

  const intact = await runIntegrityCheck({ db: ctx.db, config: ctx.config, log: ctx.app.log });
  const path = join(ctx.dataDir, 'blobs', 'sha256', sha(data).slice(0, 2), sha(data).slice(2, 4), sha(data));
  await chmod(path, 0o600);
  const handle = await open(path, 'r+');
  await handle.write(Buffer.from([data[100]! ^ 0xff]), 0, 1, 100);
  await handle.close();
  const broken = await checkAndRecord({ db: ctx.db, config: ctx.config }, 'command');
  t.equal(broken.report.intact, false);
  if (!broken.checkId) throw broken.recordFailure;

  const expected: Record<RoleName, number> = { anonymous: 401, admin: 200, lead: 403, investigator: 403, reviewer: 403, counsel: 403, observer: 403, outsider: 403 };
  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(testCase, role);
    t.equal((await ctx.json(user, 'GET', `${API}/integrity-checks`)).status, expected[role], `GET /integrity-checks as ${role}`);
    t.equal((await ctx.json(user, 'GET', `${API}/integrity-checks/${broken.checkId}`)).status, expected[role], `GET /integrity-checks/{id} as ${role}`);
  }

  const list = await ctx.json(admin, 'GET', `${API}/integrity-checks`);
  t.equal(list.status, 200);
  t.same(
    list.body.items.map((check: any) => [check.id, check.trigger, check.problemCount]),
    [
      [broken.checkId, 'command', 1],
      [intact.checkId, 'schedule', 0],
    ],
    'the latest first',
  );
  t.match(list.body.items[1], { blobsChecked: 1, bytesRead: data.length, casesChecked: await ctx.db.case.count(), startedAt: String, finishedAt: String });
  t.notOk('problems' in list.body.items[0], 'a list leaves the problems out');

  const first = await ctx.json(admin, 'GET', `${API}/integrity-checks?limit=1`);
  t.same(first.body.items.map((check: any) => check.id), [broken.checkId]);
  const second = await ctx.json(admin, 'GET', `${API}/integrity-checks?limit=1&cursor=${first.body.nextCursor}`);
  t.same(second.body, { items: [list.body.items[1]], nextCursor: null }, 'the next page, and no more');

  const one = await ctx.json(admin, 'GET', `${API}/integrity-checks/${broken.checkId.toUpperCase()}`);
  t.equal(one.status, 200);
  t.same(one.body.problems, [
    { kind: 'blob', sha256: sha(data), problem: 'bytes_differ', found: { sha256: broken.report.blobs.problems[0]!.found!.sha256, sizeBytes: data.length }, evidence: [{ id: item.body.id, caseId: testCase.id }] },
  ]);
  t.notOk(JSON.stringify(one.body).includes(title), 'ids and hashes, never what an item describes');

  t.equal((await ctx.json(admin, 'GET', `${API}/integrity-checks/00000000-0000-4000-8000-000000000000`)).status, 404);
  const badId = await ctx.json(admin, 'GET', `${API}/integrity-checks/not-an-id`);
  t.equal(badId.status, 400);
  for (const cursor of ['nonsense', encodeCursor(['not a date', broken.checkId]), encodeCursor([new Date().toISOString(), 'not an id'])]) {
    const refused = await ctx.json(admin, 'GET', `${API}/integrity-checks?cursor=${cursor}`);
    t.equal(refused.status, 400, `cursor ${cursor}`);
    t.match(refused.body, { code: 'validation_failed', errors: [{ path: 'querystring.cursor' }] });
  }
});
