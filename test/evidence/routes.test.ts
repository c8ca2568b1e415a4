// Role matrix for every evidence route (other cases included), reads, edits, retraction,
// revisions, listing, and the content route (Range, custody before bytes).
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor, type RoleName } from '../helpers/app.ts';
import { blobFiles, metadata, upload } from './helpers.ts';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

// Expected status per role name for each route (anonymous 401; admin not a member: 404; outsider: 404).
const READ_ALL: Record<RoleName, number> = { anonymous: 401, admin: 404, lead: 200, investigator: 200, reviewer: 200, counsel: 200, observer: 200, outsider: 404 };
const REVIEWER_PLUS: Record<RoleName, number> = { ...READ_ALL, observer: 404 };
const WRITE = (ok: number): Record<RoleName, number> => ({ anonymous: 401, admin: 404, lead: ok, investigator: ok, reviewer: 403, counsel: 403, observer: 403, outsider: 404 });

t.test('role matrix', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const data = randomBytes(3000);
  const created = await upload(ctx, testCase.users.investigator, testCase.id, data);
  t.equal(created.status, 201);
  const id = created.body.id as string;

  for (const role of ALL_ROLE_NAMES) {
    const user = userFor(testCase, role);
    await t.test(role, async (t) => {
      const add = await upload(ctx, user, testCase.id, randomBytes(10));
      t.equal(add.status, WRITE(201)[role], `POST evidence as ${role}`);
      t.equal((await ctx.json(user, 'GET', `/api/v1/evidence/${id}`)).status, READ_ALL[role], `GET evidence as ${role}`);
      t.equal((await ctx.json(user, 'GET', `/api/v1/cases/${testCase.id}/evidence`)).status, READ_ALL[role], `list as ${role}`);
      t.equal((await ctx.json(user, 'GET', `/api/v1/evidence/${id}/revisions`)).status, REVIEWER_PLUS[role], `revisions as ${role}`);
      const content = await ctx.inject(user, { method: 'GET', url: `/api/v1/evidence/${id}/content` });
      t.equal(content.statusCode, REVIEWER_PLUS[role], `content as ${role}`);
      if (content.statusCode === 200) t.equal(sha(content.rawPayload), sha(data));
      else t.not(content.headers['content-type'], 'application/octet-stream', 'no bytes in a refusal');
      const current = await ctx.json(testCase.users.lead, 'GET', `/api/v1/evidence/${id}`);
      const patch = await ctx.json(user, 'PATCH', `/api/v1/evidence/${id}`, { description: `by ${role}` }, { 'if-match': current.headers.etag as string });
      t.equal(patch.status, WRITE(200)[role], `PATCH as ${role}`);
    });
  }

  await t.test('items of another case are 404 to this case\'s members', async (t) => {
    const foreign = await upload(ctx, testCase.users.outsider, testCase.otherCaseId, randomBytes(50));
    t.equal(foreign.status, 201);
    for (const role of ['lead', 'investigator', 'reviewer', 'counsel', 'observer'] as const) {
      const user = testCase.users[role];
      t.equal((await ctx.json(user, 'GET', `/api/v1/evidence/${foreign.body.id}`)).status, 404);
      t.equal((await ctx.json(user, 'GET', `/api/v1/cases/${testCase.otherCaseId}/evidence`)).status, 404);
      t.equal((await ctx.inject(user, { method: 'GET', url: `/api/v1/evidence/${foreign.body.id}/content` })).statusCode, 404);
      t.equal((await ctx.json(user, 'GET', `/api/v1/evidence/${foreign.body.id}/revisions`)).status, 404);
      t.equal((await ctx.json(user, 'PATCH', `/api/v1/evidence/${foreign.body.id}`, { title: 'x' }, { 'if-match': '"1"' })).status, 404);
      t.equal((await ctx.json(user, 'POST', `/api/v1/evidence/${foreign.body.id}/retract`, { reason: 'x' }, { 'if-match': '"1"' })).status, 404);
      t.equal((await upload(ctx, user, testCase.otherCaseId, randomBytes(5))).status, 404);
    }
    const missing = '00000000-0000-4000-8000-000000000000';
    t.equal((await ctx.json(testCase.users.lead, 'GET', `/api/v1/evidence/${missing}`)).status, 404);
    t.equal((await ctx.inject(testCase.users.lead, { method: 'GET', url: `/api/v1/evidence/${missing}/content` })).statusCode, 404);
  });

  await t.test('retraction: role matrix', async (t) => {
    for (const role of ALL_ROLE_NAMES) {
      const item = await upload(ctx, testCase.users.lead, testCase.id, randomBytes(20));
      const res = await ctx.json(userFor(testCase, role), 'POST', `/api/v1/evidence/${item.body.id}/retract`, { reason: 'duplicate of an earlier item' }, { 'if-match': '"1"' });
      t.equal(res.status, WRITE(200)[role], `retract as ${role}`);
    }
  });

  await t.test('refused content reads are audited, served ones are custody entries', async (t) => {
    const denied = await ctx.db.auditEntry.count({ where: { action: 'evidence.content', outcome: 'denied', targetId: id } });
    t.ok(denied >= 1, 'the observer\'s refusal is an audit entry');
    const accessed = await ctx.db.custodyEntry.count({ where: { evidenceId: id, action: 'accessed' } });
    t.equal(accessed, 4, 'one accessed entry per served request (lead, investigator, reviewer, counsel)');
  });
});

t.test('reads, edits, retraction and revisions', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator, lead, reviewer, observer } = testCase.users;
  const data = randomBytes(100);
  const created = await upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ description: 'first', collectedBy: lead.id }) });
  t.equal(created.status, 201);
  t.equal(created.body.collectedBy, lead.id);
  const id = created.body.id as string;
  t.same(Object.keys(created.body).sort(), [
    'acquisition', 'caseId', 'captureMetadata', 'collectedAt', 'collectedBy', 'createdAt', 'description', 'duplicateOf', 'id', 'incidentIds',
    'mediaType', 'originalFilename', 'reviewStatus', 'retraction', 'sha256', 'sizeBytes', 'source', 'title', 'version',
  ].sort());

  const got = await ctx.json(observer, 'GET', `/api/v1/evidence/${id}`);
  t.equal(got.headers.etag, '"1"');
  t.same(got.body, created.body);

  t.equal((await ctx.json(investigator, 'PATCH', `/api/v1/evidence/${id}`, { title: 'x' })).status, 428, 'If-Match required');
  t.equal((await ctx.json(investigator, 'PATCH', `/api/v1/evidence/${id}`, { title: 'x' }, { 'if-match': '"7"' })).status, 412, 'stale If-Match');
  for (const body of [{}, { sha256: 'a'.repeat(64) }, { sizeBytes: 1 }, { mediaType: 'text/html' }, { title: '' }, { title: 5 }, { collectedAt: 'soon' }, { incidentIds: ['x'] }, { acquisition: 'telepathy' }, { collectedBy: testCase.users.outsider.id }, { source: { kind: 'oracle' } }]) {
    const res = await ctx.json(investigator, 'PATCH', `/api/v1/evidence/${id}`, body, { 'if-match': '"1"' });
    t.equal(res.status, 400, `PATCH ${JSON.stringify(body)}: ${res.body?.detail}`);
  }
  const patched = await ctx.json(investigator, 'PATCH', `/api/v1/evidence/${id}`, { title: 'Renamed', source: { kind: created.body.source.kind, name: 'Another', url: 'https://example.org/x' } }, { 'if-match': '"1"' });
  t.equal(patched.status, 200);
  t.equal(patched.body.version, 2);
  t.equal(patched.headers.etag, '"2"');
  t.equal(patched.body.title, 'Renamed');
  t.same(patched.body.source, { kind: created.body.source.kind, name: 'Another', url: 'https://example.org/x' });
  t.equal(patched.body.sha256, sha(data), 'bytes never change');

  const changed = await ctx.db.custodyEntry.findMany({ where: { evidenceId: id, action: 'metadata_changed' } });
  t.same(JSON.parse(changed[0]!.entry).details, { fields: ['title', 'source'] });

  const retracted = await ctx.json(lead, 'POST', `/api/v1/evidence/${id}/retract`, { reason: 'misattributed' }, { 'if-match': '"2"' });
  t.equal(retracted.status, 200);
  t.equal(retracted.body.retraction.reason, 'misattributed');
  t.equal(retracted.body.retraction.by, lead.id);
  t.equal(retracted.body.version, 3);
  t.equal((await ctx.json(lead, 'POST', `/api/v1/evidence/${id}/retract`, { reason: 'again' }, { 'if-match': '"3"' })).status, 409);
  t.equal((await ctx.json(lead, 'POST', `/api/v1/evidence/${id}/retract`, { reason: '' }, { 'if-match': '"3"' })).status, 400);
  t.equal((await ctx.json(lead, 'POST', `/api/v1/evidence/${id}/retract`, { reason: 'x', extra: 1 }, { 'if-match': '"3"' })).status, 400);
  t.equal((await ctx.json(lead, 'PATCH', `/api/v1/evidence/${id}`, { title: 'after' }, { 'if-match': '"3"' })).status, 409);
  const stillReadable = await ctx.inject(reviewer, { method: 'GET', url: `/api/v1/evidence/${id}/content` });
  t.equal(stillReadable.statusCode, 200, 'a retracted item keeps its bytes');
  const retractedEntry = await ctx.db.custodyEntry.findFirst({ where: { evidenceId: id, action: 'retracted' } });
  t.same(JSON.parse(retractedEntry!.entry).details, { reason: 'misattributed' });

  const revisions = await ctx.json(reviewer, 'GET', `/api/v1/evidence/${id}/revisions`);
  t.equal(revisions.status, 200);
  t.same(revisions.body.items.map((r: any) => r.version), [1, 2, 3]);
  t.same(revisions.body.items[1].changes.map((c: any) => c.field), ['title', 'source']);
  t.equal(revisions.body.items[2].by, lead.id);

  for (const url of [`/api/v1/evidence/not-a-uuid`, `/api/v1/evidence/${id}/revisions?limit=0`, `/api/v1/evidence/${id}/revisions?cursor=%%%`]) {
    const res = await ctx.json(reviewer, 'GET', url);
    t.ok(res.status >= 400 && res.status < 500, `${url}: ${res.status}`);
  }
});

t.test('listing: newest first, filters, pages', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator, observer, outsider } = testCase.users;
  const [incident] = await ctx.db.$queryRaw<{ id: string }[]>`
    INSERT INTO incidents (case_id, title, occurred_from, created_by)
    VALUES (${testCase.id}::uuid, 'shelling', '2026-01-01', ${investigator.id}::uuid) RETURNING id::text AS id`;
  const { jpegWithGps } = await import('./jpeg.ts');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await upload(ctx, investigator, testCase.id, i === 0 ? jpegWithGps() : randomBytes(10 + i), {
      metadata: await metadata({ title: `item ${i}`, ...(i % 2 === 0 ? { incidentIds: [incident!.id] } : {}) }),
    });
    t.equal(res.status, 201);
    ids.push(res.body.id);
  }
  const all = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence`);
  t.same(all.body.items.map((i: any) => i.id), [...ids].reverse());
  t.equal(all.body.nextCursor, null);

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(page.status, 200);
    seen.push(...page.body.items.map((i: any) => i.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  t.same(seen, [...ids].reverse(), 'pages cover every item once');

  const linked = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence?incidentId=${incident!.id}`);
  t.same(linked.body.items.map((i: any) => i.id), [ids[4], ids[2], ids[0]]);
  const images = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence?mediaType=image/*`);
  t.same(images.body.items.map((i: any) => i.id), [ids[0]]);
  const jpeg = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence?mediaType=image/jpeg`);
  t.same(jpeg.body.items.map((i: any) => i.id), [ids[0]]);
  const unreviewed = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence?reviewStatus=verified`);
  t.same(unreviewed.body.items, []);
  for (const query of ['reviewStatus=great', 'incidentId=nope', 'mediaType=<script>', 'limit=500', 'cursor=abc', 'colour=red']) {
    const res = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence?${query}`);
    t.equal(res.status, 400, query);
  }
  t.equal((await ctx.json(outsider, 'GET', `/api/v1/cases/${testCase.id}/evidence`)).status, 404);
});

t.test('content: headers, ranges, custody before the first byte', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator, reviewer } = testCase.users;
  const data = randomBytes(1000);
  const created = await upload(ctx, investigator, testCase.id, data, { filename: 'rapport d’été final;v2.pdf' });
  const id = created.body.id as string;
  const url = `/api/v1/evidence/${id}/content`;

  const whole = await ctx.inject(reviewer, { method: 'GET', url });
  t.equal(whole.statusCode, 200);
  t.equal(whole.headers.etag, `"${sha(data)}"`);
  t.equal(whole.headers['repr-digest'], `sha-256=:${createHash('sha256').update(data).digest('base64')}:`);
  t.equal(whole.headers['content-type'], 'application/octet-stream');
  t.equal(whole.headers['accept-ranges'], 'bytes');
  t.equal(whole.headers['content-length'], '1000');
  t.equal(whole.headers['content-disposition'], `attachment; filename="rapport d__t_ final_v2.pdf"; filename*=UTF-8''rapport%20d%E2%80%99%C3%A9t%C3%A9%20final%3Bv2.pdf`);

  const ranged = await ctx.inject(reviewer, { method: 'GET', url, headers: { range: 'bytes=100-199' } });
  t.equal(ranged.statusCode, 206);
  t.equal(ranged.headers['content-range'], 'bytes 100-199/1000');
  t.same(ranged.rawPayload, data.subarray(100, 200));
  const suffix = await ctx.inject(reviewer, { method: 'GET', url, headers: { range: 'bytes=-10' } });
  t.equal(suffix.statusCode, 206);
  t.same(suffix.rawPayload, data.subarray(990));
  const open = await ctx.inject(reviewer, { method: 'GET', url, headers: { range: 'bytes=995-' } });
  t.same(open.rawPayload, data.subarray(995));
  const clipped = await ctx.inject(reviewer, { method: 'GET', url, headers: { range: 'bytes=990-5000' } });
  t.equal(clipped.headers['content-range'], 'bytes 990-999/1000');
  const several = await ctx.inject(reviewer, { method: 'GET', url, headers: { range: 'bytes=0-1,5-6' } });
  t.equal(several.statusCode, 200, 'several ranges: the whole content');

  const entriesBefore = await ctx.db.custodyEntry.count({ where: { evidenceId: id, action: 'accessed' } });
  const unsatisfiable = await ctx.inject(reviewer, { method: 'GET', url, headers: { range: 'bytes=1000-' } });
  t.equal(unsatisfiable.statusCode, 416);
  t.equal(unsatisfiable.headers['content-range'], 'bytes */1000');
  t.equal(JSON.parse(unsatisfiable.body).code, 'range_not_satisfiable');
  t.equal(await ctx.db.custodyEntry.count({ where: { evidenceId: id, action: 'accessed' } }), entriesBefore, 'a refused read is no custody entry');
  t.equal(await ctx.db.auditEntry.count({ where: { action: 'evidence.content', outcome: 'failure', targetId: id } }), 1);

  const accessed = await ctx.db.custodyEntry.findMany({ where: { evidenceId: id, action: 'accessed' }, orderBy: { seq: 'asc' } });
  t.same(accessed.map((e) => JSON.parse(e.entry).details.range), [null, 'bytes=100-199', 'bytes=990-999', 'bytes=995-999', 'bytes=990-999', null]);
  t.equal(JSON.parse(accessed[0]!.entry).actorId, reviewer.id);

  const empty = await upload(ctx, investigator, testCase.id, Buffer.alloc(0));
  const emptyRange = await ctx.inject(reviewer, { method: 'GET', url: `/api/v1/evidence/${empty.body.id}/content`, headers: { range: 'bytes=0-' } });
  t.equal(emptyRange.statusCode, 416);
  t.equal(emptyRange.headers['content-range'], 'bytes */0');

  await t.test('the accessed entry exists when the first byte arrives', async (t) => {
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = ctx.app.server.address() as AddressInfo;
    const before = await ctx.db.custodyEntry.count({ where: { evidenceId: id, action: 'accessed' } });
    const countAtFirstByte = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: url, headers: { authorization: `Bearer ${reviewer.token}` } }, (res) => {
        res.pause();
        // Headers are out, the body not read yet: the entry must already be committed.
        ctx.db.custodyEntry.count({ where: { evidenceId: id, action: 'accessed' } }).then((count) => {
          res.resume();
          res.on('end', () => resolve(count));
        }, reject);
      }).on('error', reject);
    });
    t.equal(countAtFirstByte, before + 1);
  });

  await t.test('missing stored bytes: 503, no custody entry', async (t) => {
    const lost = await upload(ctx, investigator, testCase.id, randomBytes(77));
    const files = await blobFiles(ctx.dataDir);
    const { unlink } = await import('node:fs/promises');
    await unlink(files.find((f) => f.endsWith(lost.body.sha256))!);
    const before = await ctx.db.custodyEntry.count({ where: { evidenceId: lost.body.id, action: 'accessed' } });
    const res = await ctx.inject(reviewer, { method: 'GET', url: `/api/v1/evidence/${lost.body.id}/content` });
    t.equal(res.statusCode, 503);
    t.equal(await ctx.db.custodyEntry.count({ where: { evidenceId: lost.body.id, action: 'accessed' } }), before);
  });
});
