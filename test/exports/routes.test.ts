// Who may start, read and download exports, and what bad input gets.
import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor } from '../helpers/app.ts';
import { metadata, upload } from '../evidence/helpers.ts';
import { startTestJobs, waitForExport } from './realistic-case.ts';

const ctx = await createTestContext(t);
await startTestJobs(t, ctx);
const testCase = await ctx.createCase();
const { lead, counsel, investigator } = testCase.users;
const item = await upload(ctx, investigator, testCase.id, Buffer.from('bytes of one item\n'), { metadata: await metadata() });
const other = await ctx.createCase();
const otherItem = await upload(ctx, other.users.investigator, other.id, Buffer.from('bytes of another case\n'), { metadata: await metadata() });
const url = `/api/v1/cases/${testCase.id}/exports`;

// Starting an export, per role and redaction: counsel only protect_witnesses, the lead both.
const expected: Record<string, [number, number]> = {
  anonymous: [401, 401],
  // Admins see every case (to manage it) but read none of its content.
  admin: [403, 403],
  lead: [202, 202],
  investigator: [403, 403],
  reviewer: [403, 403],
  counsel: [202, 403],
  observer: [403, 403],
  outsider: [404, 404],
};
const created: Record<string, string> = {};
t.test('POST /cases/{caseId}/exports by role', async (t) => {
  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(testCase, role);
    const [protect, full] = expected[role]!;
    const a = await ctx.json(user, 'POST', url, { redaction: 'protect_witnesses' });
    t.equal(a.status, protect, `${role} protect_witnesses`);
    if (a.status === 202) {
      t.equal(a.body.status, 'queued');
      created[role] = a.body.id;
    }
    const b = await ctx.json(user, 'POST', url, { redaction: 'full' });
    t.equal(b.status, full, `${role} full`);
    if (b.status === 202) created[`${role}-full`] = b.body.id;
  }
  const refused = await ctx.db.auditEntry.count({ where: { action: 'export.create', outcome: 'denied', caseId: testCase.id } });
  t.ok(refused >= 5, 'refusals are audited');
  t.equal(await ctx.db.auditEntry.count({ where: { action: 'export.create', outcome: 'success', caseId: testCase.id } }), 3);
  for (const id of Object.values(created)) t.equal((await waitForExport(ctx, lead, id)).status, 'done');
});

t.test('reading and downloading: the creator and the leads; everyone else 404', async (t) => {
  const secondLead = await ctx.createUser();
  await ctx.addMember(testCase.id, secondLead.id, 'lead');
  const counselExport = created.counsel!;
  const leadExport = created.lead!;
  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(testCase, role);
    for (const [id, mayRead] of [
      [counselExport, role === 'lead' || role === 'counsel'],
      [leadExport, role === 'lead'],
    ] as const) {
      const read = await ctx.json(user, 'GET', `/api/v1/exports/${id}`);
      const download = await ctx.inject(user, { method: 'GET', url: `/api/v1/exports/${id}/download` });
      const status = role === 'anonymous' ? 401 : mayRead ? 200 : 404;
      t.equal(read.status, status, `${role} reads ${id === leadExport ? "the lead's" : "counsel's"} export`);
      t.equal(download.statusCode, status, `${role} downloads it`);
      if (status === 200) {
        t.same(Object.keys(read.body).sort(), ['bytes', 'caseId', 'createdAt', 'createdBy', 'id', 'progress', 'redaction', 'sha256', 'status']);
        t.equal(download.headers['content-type'], 'application/zip');
      }
    }
  }
  t.equal((await ctx.json(secondLead, 'GET', `/api/v1/exports/${counselExport}`)).status, 200, 'every lead of the case');
  // A creator who is no longer allowed to export in the case no longer sees it.
  await ctx.addMember(testCase.id, counsel.id, 'observer');
  t.equal((await ctx.json(counsel, 'GET', `/api/v1/exports/${counselExport}`)).status, 404);
  await ctx.addMember(testCase.id, counsel.id, 'counsel');
  t.equal((await ctx.json(userFor(other, 'lead'), 'GET', `/api/v1/exports/${counselExport}`)).status, 404, 'the lead of another case');
  t.equal((await ctx.json(lead, 'GET', '/api/v1/exports/00000000-0000-4000-8000-000000000000')).status, 404);
  const downloads = await ctx.db.auditEntry.count({ where: { action: 'export.download', outcome: 'success' } });
  t.ok(downloads >= 3);
});

t.test('a download before the bundle is done is a 409', async (t) => {
  const row = await ctx.db.export.create({
    data: { id: '11111111-1111-4111-8111-111111111111', caseId: testCase.id, createdBy: lead.id, redaction: 'protect_witnesses', status: 'running' },
  });
  const download = await ctx.json(lead, 'GET', `/api/v1/exports/${row.id}/download`);
  t.equal(download.status, 409);
  t.equal(download.body.code, 'conflict');
  const read = await ctx.json(lead, 'GET', `/api/v1/exports/${row.id}`);
  t.equal(read.body.status, 'running');
  t.notOk('sha256' in read.body);
});

t.test('bad input: 4xx problems, nothing written', async (t) => {
  const before = await ctx.db.export.count();
  const cases: [unknown, number, string?][] = [
    [{ redaction: 'everything' }, 400],
    [{ redaction: 'full', extra: 1 }, 400],
    [{ scope: { incidentIds: ['not-a-uuid'] } }, 400],
    [{ scope: { witnessIds: [] } }, 400],
    [{ scope: { evidenceIds: 'x' } }, 400],
    [{ scope: { evidenceIds: [otherItem.body.id] } }, 400, 'body.scope.evidenceIds.0'],
    [{ scope: { incidentIds: ['00000000-0000-4000-8000-000000000000'] } }, 400, 'body.scope.incidentIds.0'],
    [{ scope: { evidenceIds: Array.from({ length: 10_001 }, () => item.body.id) } }, 400],
    [{ redaction: 'x'.repeat(2_000_000) }, 413],
  ];
  for (const [body, status, path] of cases) {
    const response = await ctx.json(lead, 'POST', url, body);
    t.equal(response.status, status, JSON.stringify(body).slice(0, 80));
    t.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    if (path) t.equal(response.body.errors[0].path, path);
  }
  t.equal((await ctx.json(lead, 'POST', '/api/v1/cases/not-a-uuid/exports', {})).status, 400);
  t.equal((await ctx.json(lead, 'GET', '/api/v1/exports/not-a-uuid')).status, 400);
  t.equal(await ctx.db.export.count(), before);
  // An empty body and an empty scope both mean the whole case, protecting witnesses.
  const whole = await ctx.json(counsel, 'POST', url, { scope: {} });
  t.equal(whole.status, 202);
  const row = await ctx.db.export.findUniqueOrThrow({ where: { id: whole.body.id } });
  t.same(row.scope, {});
  t.equal(row.redaction, 'protect_witnesses');
  t.equal((await waitForExport(ctx, counsel, whole.body.id)).status, 'done');
});
