// Resumable uploads through tus: three PATCHes with a HEAD between, complete → evidence with the
// same bytes; offsets, ownership, roles, limits, termination, and complete's refusals.
import { createHash, randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor } from '../helpers/app.ts';
import { blobFiles, metadata, upload } from '../evidence/helpers.ts';
import { TUS, completeUpload, createUpload, deleteUpload, headUpload, patchUpload, uploadFiles } from './helpers.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function isProblem(t: Test, response: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string) {
  t.equal(response.statusCode, status, `status ${status}`);
  t.match(String(response.headers['content-type']), /^application\/problem\+json/, 'a problem');
  // A HEAD answer has no body: its status and type say it all.
  if (response.body) t.equal(JSON.parse(response.body).code, code, `code ${code}`);
}

t.test('tus uploads', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator, lead, reviewer } = testCase.users;
  const otherInvestigator = await ctx.createUser();
  await ctx.addMember(testCase.id, otherInvestigator.id, 'investigator');

  t.test('three PATCHes with a HEAD between, then complete: the evidence holds the same bytes', async (t) => {
    const data = randomBytes(300_000);
    const created = await createUpload(ctx, investigator, testCase.id, data.length, 'dir/clip one.bin');
    t.equal(created.status, 201);
    t.match(created.location, /^\/api\/v1\/uploads\/[0-9a-f-]{36}$/);
    t.ok(created.response.headers['upload-expires'], 'Upload-Expires');
    const row = await ctx.db.upload.findUnique({ where: { id: created.id } });
    t.equal(row?.caseId, testCase.id);
    t.equal(row?.createdBy, investigator.id);
    t.equal(row?.uploadLength, BigInt(data.length));
    t.equal(row?.originalFilename, 'clip one.bin', 'the name without its directory');
    t.same(await uploadFiles(ctx.dataDir), [created.id, `${created.id}.json`], 'files named by the id only');

    const cuts = [0, 100_000, 250_000, data.length];
    for (let i = 0; i < 3; i++) {
      const head = await headUpload(ctx, investigator, created.id);
      t.equal(head.statusCode, 200);
      t.equal(head.headers['upload-offset'], String(cuts[i]), `HEAD before PATCH ${i + 1}: offset ${cuts[i]}`);
      t.equal(head.headers['upload-length'], String(data.length));
      t.equal(head.headers['tus-resumable'], '1.0.0');
      const patch = await patchUpload(ctx, investigator, created.id, cuts[i]!, data.subarray(cuts[i], cuts[i + 1]));
      t.equal(patch.statusCode, 204, `PATCH ${i + 1}`);
      t.equal(patch.headers['upload-offset'], String(cuts[i + 1]));
    }

    const fields = await metadata({ title: 'Resumed upload' });
    const done = await completeUpload(ctx, investigator, created.id, fields);
    t.equal(done.status, 201);
    t.equal(done.body.sha256, sha256(data));
    t.equal(done.body.sizeBytes, data.length);
    t.equal(done.body.originalFilename, 'clip one.bin');
    t.equal(done.body.title, 'Resumed upload');
    t.ok(done.headers.etag);

    const content = await ctx.inject(reviewer, { method: 'GET', url: `/api/v1/evidence/${done.body.id}/content` });
    t.equal(content.statusCode, 200);
    t.ok(content.rawPayload.equals(data), 'the bytes served are the bytes uploaded');
    const custody = await ctx.json(reviewer, 'GET', `/api/v1/evidence/${done.body.id}/custody`);
    const collected = custody.body.items.map((item: { entry: { action: string } }) => item.entry).find((entry: { action: string }) => entry.action === 'collected');
    t.equal(collected?.evidenceSha256, sha256(data), 'a collected custody entry with the hash');

    t.same(await uploadFiles(ctx.dataDir), [], 'the tus files are gone');
    t.equal((await ctx.db.upload.findUnique({ where: { id: created.id } }))?.completedEvidenceId, done.body.id);
    const again = await completeUpload(ctx, investigator, created.id, fields);
    t.equal(again.status, 409, 'a second complete is a conflict');
    t.equal(again.body.code, 'conflict');
    isProblem(t, await headUpload(ctx, investigator, created.id), 404, 'not_found');
    t.equal(await ctx.db.evidence.count({ where: { caseId: testCase.id, title: 'Resumed upload' } }), 1);
  });

  t.test('bytes already stored, uploaded again through tus: a duplicate sharing the blob, no copy left', async (t) => {
    const data = randomBytes(200_000);
    const first = await upload(ctx, lead, testCase.id, data);
    t.equal(first.status, 201);
    const blobsBefore = (await blobFiles(ctx.dataDir)).length;
    const created = await createUpload(ctx, investigator, testCase.id, data.length);
    t.equal((await patchUpload(ctx, investigator, created.id, 0, data)).statusCode, 204);
    const done = await completeUpload(ctx, investigator, created.id, await metadata());
    t.equal(done.status, 201);
    t.equal(done.body.sha256, first.body.sha256);
    t.same(done.body.duplicateOf, [first.body.id]);
    t.equal((await blobFiles(ctx.dataDir)).length, blobsBefore, 'no new file in the blob store, temporary or not');
    t.same(await uploadFiles(ctx.dataDir), [], 'nor in the uploads directory');
    const content = await ctx.inject(reviewer, { method: 'GET', url: `/api/v1/evidence/${done.body.id}/content` });
    t.ok(content.rawPayload.equals(data));
  });

  t.test('a zero-byte upload completes', async (t) => {
    const created = await createUpload(ctx, lead, testCase.id, 0);
    t.equal(created.status, 201);
    const done = await completeUpload(ctx, lead, created.id, await metadata());
    t.equal(done.status, 201);
    t.equal(done.body.sha256, sha256(Buffer.alloc(0)));
  });

  t.test('a wrong Upload-Offset is a 409 and changes nothing', async (t) => {
    const created = await createUpload(ctx, investigator, testCase.id, 10);
    t.equal((await patchUpload(ctx, investigator, created.id, 0, Buffer.from('abcd'))).statusCode, 204);
    for (const offset of [0, 2, 8]) {
      t.equal((await patchUpload(ctx, investigator, created.id, offset, Buffer.from('xy'))).statusCode, 409, `offset ${offset} → 409`);
    }
    t.equal((await headUpload(ctx, investigator, created.id)).headers['upload-offset'], '4');
    const beyond = await patchUpload(ctx, investigator, created.id, 4, Buffer.alloc(20));
    t.equal(beyond.statusCode, 413, 'more bytes than the declared length');
    const badOffset = await ctx.inject(investigator, {
      method: 'PATCH',
      url: `/api/v1/uploads/${created.id}`,
      headers: { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': 'abc' },
      payload: Buffer.from('x'),
    });
    t.equal(badOffset.statusCode, 400, 'a malformed offset is a 400');
    const wrongType = await ctx.inject(investigator, {
      method: 'PATCH',
      url: `/api/v1/uploads/${created.id}`,
      headers: { ...TUS, 'content-type': 'text/plain', 'upload-offset': '4' },
      payload: 'x',
    });
    t.ok(wrongType.statusCode >= 400 && wrongType.statusCode < 500, `another content type: ${wrongType.statusCode}`);
    const noTus = await ctx.inject(investigator, { method: 'HEAD', url: `/api/v1/uploads/${created.id}` });
    t.equal(noTus.statusCode, 412, 'Tus-Resumable is required');
    t.equal((await headUpload(ctx, investigator, created.id)).headers['upload-offset'], '4', 'still 4 bytes');
  });

  t.test('nobody but its creator may touch an upload: the same 404 as a missing one', async (t) => {
    const created = await createUpload(ctx, investigator, testCase.id, 8);
    t.equal((await patchUpload(ctx, investigator, created.id, 0, Buffer.from('1234'))).statusCode, 204);
    for (const [name, user] of [
      ['another investigator of the case', otherInvestigator],
      ['the lead', lead],
      ['an admin', testCase.users.admin],
      ['an outsider', testCase.users.outsider],
    ] as const) {
      isProblem(t, await headUpload(ctx, user, created.id), 404, 'not_found');
      isProblem(t, await patchUpload(ctx, user, created.id, 4, Buffer.from('5678')), 404, 'not_found');
      isProblem(t, await deleteUpload(ctx, user, created.id), 404, 'not_found');
      const complete = await completeUpload(ctx, user, created.id, await metadata());
      t.equal(complete.status, 404, `${name}: complete → 404`);
    }
    const missing = '00000000-0000-4000-8000-000000000000';
    isProblem(t, await headUpload(ctx, investigator, missing), 404, 'not_found');
    isProblem(t, await headUpload(ctx, investigator, 'not-a-uuid'), 400, 'validation_failed');
    isProblem(t, await headUpload(ctx, null, created.id), 401, 'unauthenticated');
    t.equal((await headUpload(ctx, investigator, created.id)).headers['upload-offset'], '4', 'untouched');
    t.same((await uploadFiles(ctx.dataDir)).filter((name) => name.startsWith(created.id)), [created.id, `${created.id}.json`]);
    // The creator demoted to observer may no longer write to the case.
    await ctx.addMember(testCase.id, investigator.id, 'observer');
    isProblem(t, await headUpload(ctx, investigator, created.id), 403, 'forbidden');
    await ctx.addMember(testCase.id, investigator.id, 'investigator');
    t.equal((await deleteUpload(ctx, investigator, created.id)).statusCode, 204);
  });

  t.test('who may start an upload', async (t) => {
    const expected: Record<string, number> = { anonymous: 401, admin: 404, lead: 201, investigator: 201, reviewer: 403, counsel: 403, observer: 403, outsider: 404 };
    for (const role of ALL_ROLE_NAMES) {
      const created = await createUpload(ctx, userFor(testCase, role), testCase.id, 5);
      t.equal(created.status, expected[role], `${role} → ${expected[role]}`);
      if (created.status === 201) t.equal((await deleteUpload(ctx, userFor(testCase, role), created.id)).statusCode, 204);
      else t.match(String(created.response.headers['content-type']), /problem\+json/);
    }
    const otherCase = await createUpload(ctx, investigator, testCase.otherCaseId, 5);
    t.equal(otherCase.status, 404, 'another case → 404');
  });

  t.test('creation refusals are problems and keep nothing', async (t) => {
    const before = await uploadFiles(ctx.dataDir);
    const rows = await ctx.db.upload.count();
    isProblem(t, (await createUpload(ctx, investigator, testCase.id, 60 * 1024 ** 3)).response, 413, 'payload_too_large');
    isProblem(t, (await createUpload(ctx, investigator, testCase.id, '12abc')).response, 400, 'validation_failed');
    const deferred = await ctx.inject(investigator, { method: 'POST', url: `/api/v1/cases/${testCase.id}/uploads`, headers: { ...TUS, 'upload-defer-length': '1' } });
    isProblem(t, deferred, 400, 'validation_failed');
    const none = await ctx.inject(investigator, { method: 'POST', url: `/api/v1/cases/${testCase.id}/uploads`, headers: { ...TUS } });
    isProblem(t, none, 400, 'validation_failed');
    const badMetadata = await createUpload(ctx, investigator, testCase.id, 5, undefined, { 'upload-metadata': 'filename !!!not base64' });
    t.equal(badMetadata.status, 400, 'malformed Upload-Metadata → 400');
    isProblem(t, (await createUpload(ctx, investigator, 'nope', 5)).response, 400, 'validation_failed');
    t.same(await uploadFiles(ctx.dataDir), before);
    t.equal(await ctx.db.upload.count(), rows);
  });

  t.test('complete before the last byte is a 409; bad fields a 400 that leaves the upload resumable', async (t) => {
    const data = randomBytes(1000);
    const created = await createUpload(ctx, investigator, testCase.id, data.length, 'x.bin');
    await patchUpload(ctx, investigator, created.id, 0, data.subarray(0, 600));
    const early = await completeUpload(ctx, investigator, created.id, await metadata());
    t.equal(early.status, 409);
    t.equal(early.body.code, 'conflict');
    await patchUpload(ctx, investigator, created.id, 600, data.subarray(600));

    const bad = await completeUpload(ctx, investigator, created.id, { title: '' });
    t.equal(bad.status, 400);
    t.equal(bad.body.code, 'validation_failed');
    const unknownCode = await completeUpload(ctx, investigator, created.id, await metadata({ acquisition: 'no-such-method' }));
    t.equal(unknownCode.status, 400, 'a vocabulary refusal (checked by the service) is a 400 too');
    const extra = await completeUpload(ctx, investigator, created.id, { ...(await metadata()), secret: 1 });
    t.equal(extra.status, 400, 'unknown property');
    const head = await headUpload(ctx, investigator, created.id);
    t.equal(head.statusCode, 200, 'still there');
    t.equal(head.headers['upload-offset'], String(data.length));
    t.equal(await ctx.db.evidence.count({ where: { sha256: sha256(data) } }), 0, 'no evidence yet');

    const done = await completeUpload(ctx, investigator, created.id, await metadata());
    t.equal(done.status, 201, 'the retry succeeds');
    t.equal(done.body.sha256, sha256(data));
  });

  t.test('DELETE terminates: bytes and row gone', async (t) => {
    const created = await createUpload(ctx, investigator, testCase.id, 100);
    await patchUpload(ctx, investigator, created.id, 0, Buffer.alloc(50, 1));
    t.ok((await uploadFiles(ctx.dataDir)).includes(created.id));
    const deleted = await deleteUpload(ctx, investigator, created.id);
    t.equal(deleted.statusCode, 204);
    t.notOk((await uploadFiles(ctx.dataDir)).some((name) => name.startsWith(created.id)), 'no file left');
    t.equal(await ctx.db.upload.count({ where: { id: created.id } }), 0, 'no row left');
    isProblem(t, await headUpload(ctx, investigator, created.id), 404, 'not_found');
  });

  t.test('an expired upload answers 410 to its creator', async (t) => {
    const created = await createUpload(ctx, investigator, testCase.id, 100);
    await ctx.db.upload.update({ where: { id: created.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    isProblem(t, await headUpload(ctx, investigator, created.id), 410, 'gone');
    isProblem(t, await patchUpload(ctx, investigator, created.id, 0, Buffer.alloc(1)), 410, 'gone');
    t.equal((await completeUpload(ctx, investigator, created.id, await metadata())).status, 410);
    isProblem(t, await headUpload(ctx, otherInvestigator, created.id), 404, 'not_found');
  });

  t.test('OPTIONS: tus discovery, public', async (t) => {
    for (const url of ['/api/v1/uploads', `/api/v1/uploads/${'0'.repeat(8)}-0000-4000-8000-000000000000`, `/api/v1/cases/${testCase.id}/uploads`]) {
      const response = await ctx.inject(null, { method: 'OPTIONS', url });
      t.equal(response.statusCode, 204, url);
      t.equal(response.headers['tus-version'], '1.0.0');
      t.equal(response.headers['tus-extension'], 'creation,creation-with-upload,termination,expiration');
      t.equal(response.headers['tus-max-size'], String(ctx.config.maxUploadBytes));
      t.notOk(response.headers['access-control-allow-origin'], 'no CORS, like the rest of the API');
    }
  });

  t.test('the tus routes are in the OpenAPI document', async (t) => {
    const doc = JSON.parse((await ctx.inject(null, { method: 'GET', url: '/openapi.json' })).body);
    t.ok(doc.paths['/api/v1/cases/{caseId}/uploads']?.post);
    t.ok(doc.paths['/api/v1/uploads/{id}']?.patch);
    t.ok(doc.paths['/api/v1/uploads/{id}']?.delete);
    t.ok(doc.paths['/api/v1/uploads/{id}/complete']?.post);
  });
});
