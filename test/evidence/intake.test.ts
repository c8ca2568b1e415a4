import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import t from 'tap';
import { FilesystemBlobStore, type TempBlob } from '../../src/storage/index.ts';
import { createTestContext, type TestContext } from '../helpers/app.ts';
import { blobFiles, evidenceCounts, metadata, multipart, upload } from './helpers.ts';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

t.test('multipart intake', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator, reviewer } = testCase.users;

  for (const size of [0, 1, 5 * 1024 * 1024]) {
    await t.test(`round trip of ${size} bytes`, async (t) => {
      const data = randomBytes(size);
      const res = await upload(ctx, investigator, testCase.id, data, { filename: `f-${size}.bin` });
      t.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
      t.equal(res.body.sha256, sha(data));
      t.equal(res.body.sizeBytes, size);
      t.equal(res.body.originalFilename, `f-${size}.bin`);
      t.equal(res.body.collectedBy, investigator.id);
      t.equal(res.body.reviewStatus, 'unreviewed');
      t.equal(res.body.retraction, null);
      t.equal(res.body.version, 1);
      t.equal(res.headers.etag, '"1"');
      const content = await ctx.inject(reviewer, { method: 'GET', url: `/api/v1/evidence/${res.body.id}/content` });
      t.equal(content.statusCode, 200);
      t.equal(content.rawPayload.length, size);
      t.equal(sha(content.rawPayload), sha(data));
      t.equal(content.headers.etag, `"${sha(data)}"`);
    });
  }

  await t.test('fields after the file', async (t) => {
    const data = Buffer.from('after the file');
    const res = await upload(ctx, investigator, testCase.id, data, { fileFirst: true });
    t.equal(res.status, 201);
    t.equal(res.body.sha256, sha(data));
    t.equal(res.body.mediaType, 'text/plain');
  });

  await t.test('bad metadata after the file leaves nothing', async (t) => {
    const before = await evidenceCounts(ctx);
    const filesBefore = (await blobFiles(ctx.dataDir)).length;
    const res = await upload(ctx, investigator, testCase.id, randomBytes(1000), { fileFirst: true, metadata: await metadata({ title: '' }) });
    t.equal(res.status, 400);
    t.equal(res.body.code, 'validation_failed');
    t.same(res.body.errors.map((e: any) => e.path), ['metadata.title']);
    t.same(await evidenceCounts(ctx), before);
    t.equal((await blobFiles(ctx.dataDir)).length, filesBefore);
  });
});

t.test('intake validation: every bad input is a 4xx and leaves nothing', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator } = testCase.users;
  const outsiderIncident = await ctx.db.$queryRaw<{ id: string }[]>`
    INSERT INTO incidents (case_id, title, occurred_from, created_by)
    VALUES (${testCase.otherCaseId}::uuid, 'elsewhere', '2026-01-01', ${testCase.users.outsider.id}::uuid) RETURNING id::text AS id`;
  const data = randomBytes(2000);
  const cases: [string, () => Promise<{ status: number; body: any }>, number, string?][] = [
    ['missing title', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ title: undefined }) }), 400, 'metadata.title'],
    ['unknown property', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ colour: 'red' }) }), 400, 'metadata.colour'],
    ['bad date', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ collectedAt: 'yesterday' }) }), 400, 'metadata.collectedAt'],
    ['unknown acquisition', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ acquisition: 'telepathy' }) }), 400, 'metadata.acquisition'],
    ['unknown source kind', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ source: { kind: 'oracle' } }) }), 400, 'metadata.source.kind'],
    ['missing source', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ source: undefined }) }), 400, 'metadata.source'],
    ['collector not a member', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ collectedBy: testCase.users.outsider.id }) }), 400, 'metadata.collectedBy'],
    ['incident of another case', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ incidentIds: [outsiderIncident[0]!.id] }) }), 400, 'metadata.incidentIds.0'],
    ['incident id not a uuid', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ incidentIds: ['nope'] }) }), 400, 'metadata.incidentIds.0'],
    ['huge title', async () => upload(ctx, investigator, testCase.id, data, { metadata: await metadata({ title: 'x'.repeat(100_000) }) }), 400, 'metadata'],
    ['metadata not JSON', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'metadata', value: '{nope' }, { name: 'file', filename: 'a', data }] }), 400, 'metadata'],
    ['metadata JSON not an object', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'metadata', value: '[1]' }, { name: 'file', filename: 'a', data }] }), 400, 'metadata'],
    ['bad JSON typed field', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'metadata', value: '{x', contentType: 'application/json' }, { name: 'file', filename: 'a', data }] }), 400, 'metadata'],
    ['missing file', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'metadata', value: JSON.stringify(await metadata()) }] }), 400, 'file'],
    ['missing metadata', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'file', filename: 'a', data }] }), 400, 'metadata'],
    ['two files', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'metadata', value: JSON.stringify(await metadata()) }, { name: 'file', filename: 'a', data }, { name: 'file', filename: 'b', data }] }), 400, 'file'],
    ['two files, metadata last', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'file', filename: 'a', data }, { name: 'file', filename: 'b', data }, { name: 'metadata', value: JSON.stringify(await metadata()) }] }), 400, 'file'],
    ['unknown field', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'colour', value: 'red' }, { name: 'file', filename: 'a', data }] }), 400, 'body.colour'],
    ['file under another name', async () => upload(ctx, investigator, testCase.id, data, { parts: [{ name: 'metadata', value: JSON.stringify(await metadata()) }, { name: 'attachment', filename: 'a', data }] }), 400, 'body.attachment'],
    ['JSON body', async () => ctx.json(investigator, 'POST', `/api/v1/cases/${testCase.id}/evidence`, await metadata()), 415],
    ['truncated multipart', async () => {
      const body = (await import('./helpers.ts')).multipart([{ name: 'metadata', value: JSON.stringify(await metadata()) }, { name: 'file', filename: 'a', data }]);
      const res = await ctx.inject(investigator, { method: 'POST', url: `/api/v1/cases/${testCase.id}/evidence`, headers: { 'content-type': body.contentType }, payload: body.payload.subarray(0, body.payload.length - 300) });
      return { status: res.statusCode, body: JSON.parse(res.body) };
    }, 400],
    ['case id not a uuid', async () => upload(ctx, investigator, 'not-a-uuid', data), 400],
    ['case that does not exist', async () => upload(ctx, investigator, '00000000-0000-4000-8000-000000000000', data), 404],
  ];
  for (const [name, run, status, path] of cases) {
    const before = await evidenceCounts(ctx);
    const res = await run();
    t.equal(res.status, status, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`);
    if (path) t.ok(res.body.errors?.some((e: any) => e.path === path), `${name} names ${path}: ${JSON.stringify(res.body.errors)}`);
    t.same(await evidenceCounts(ctx), before, `${name}: no row`);
    t.same(await blobFiles(ctx.dataDir), [], `${name}: no file`);
  }
});

t.test('over the size limit: 413 and nothing kept', async (t) => {
  const ctx = await createTestContext(t, { CUSTODIA_MAX_UPLOAD_BYTES: '1000' });
  const testCase = await ctx.createCase();
  const { investigator } = testCase.users;
  for (const fileFirst of [false, true]) {
    const res = await upload(ctx, investigator, testCase.id, randomBytes(5000), { fileFirst });
    t.equal(res.status, 413);
    t.equal(res.body.code, 'payload_too_large');
    t.same(await evidenceCounts(ctx), { evidence: 0, blobs: 0, custody: 0 });
    t.same(await blobFiles(ctx.dataDir), []);
  }
  const exact = await upload(ctx, investigator, testCase.id, randomBytes(1000));
  t.equal(exact.status, 201, 'exactly the limit is accepted');
});

t.test('the same bytes twice: two records, one blob, duplicateOf both ways', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { investigator, lead, observer } = testCase.users;
  const data = randomBytes(4096);
  const first = await upload(ctx, investigator, testCase.id, data);
  const second = await upload(ctx, lead, testCase.id, data, { filename: 'copy.bin' });
  t.equal(first.status, 201);
  t.equal(second.status, 201);
  t.not(first.body.id, second.body.id);
  t.same(first.body.duplicateOf, []);
  t.same(second.body.duplicateOf, [first.body.id]);
  const reread = await ctx.json(observer, 'GET', `/api/v1/evidence/${first.body.id}`);
  t.same(reread.body.duplicateOf, [second.body.id]);
  t.equal(await ctx.db.blob.count(), 1);
  t.equal((await blobFiles(ctx.dataDir)).length, 1);
  // Same bytes in another case: not a duplicate there.
  const other = await upload(ctx, testCase.users.outsider, testCase.otherCaseId, data);
  t.equal(other.status, 201);
  t.same(other.body.duplicateOf, []);
  const list = await ctx.json(observer, 'GET', `/api/v1/cases/${testCase.id}/evidence`);
  t.same(list.body.items.map((item: any) => item.duplicateOf), [[first.body.id], [second.body.id]]);
});

/** Waits until `condition` holds (work that goes on after an answer), for at most five seconds. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; waited < 5000 && !(await condition()); waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
}

t.test('a duplicate\'s own copy is discarded after its transaction, and a failure to discard it loses nothing', async (t) => {
  /** Notes, at each abort, how many evidence rows another connection sees; fails the abort when asked. */
  class WatchedStore extends FilesystemBlobStore {
    rowsSeenAtAbort: number[] = [];
    failAbort = false;
    context: TestContext | null = null;
    override async abort(temp: TempBlob): Promise<void> {
      this.rowsSeenAtAbort.push(await this.context!.db.evidence.count());
      if (this.failAbort) throw new Error('EIO: i/o error, unlink');
      await super.abort(temp);
    }
  }
  let store: WatchedStore | null = null;
  const ctx = await createTestContext(t, {}, { store: (config) => (store = new WatchedStore(join(config.dataDir, 'blobs'))) });
  store!.context = ctx;
  const testCase = await ctx.createCase();
  const data = randomBytes(64 * 1024);
  t.equal((await upload(ctx, testCase.users.investigator, testCase.id, data)).status, 201);
  t.same(store!.rowsSeenAtAbort, [], 'bytes that became the blob are not aborted');
  t.equal((await upload(ctx, testCase.users.lead, testCase.id, data)).status, 201);
  // Removed while the answer goes: wait for it.
  await until(async () => (await blobFiles(ctx.dataDir)).length === 1);
  t.same(store!.rowsSeenAtAbort, [2], 'the duplicate\'s copy is removed once its row is committed');
  t.equal((await blobFiles(ctx.dataDir)).length, 1, 'one file: the blob');

  store!.failAbort = true;
  const third = await upload(ctx, testCase.users.lead, testCase.id, data);
  t.equal(third.status, 201, 'the evidence is stored all the same');
  const warned = () => ctx.logs.some((line) => /"level":40/.test(line) && line.includes('could not remove the temporary copy of an upload'));
  await until(async () => warned());
  t.ok(warned(), 'a warning says so');
  t.equal((await blobFiles(ctx.dataDir)).length, 2, 'the copy stays for the sweep');
  store!.failAbort = false;
  t.equal(await store!.sweepTemps(new Date(Date.now() + 1000)), 1, 'the sweep removes it');
  t.equal((await blobFiles(ctx.dataDir)).length, 1);
});

t.test('a JPEG with GPS EXIF yields capturedAt, captureLocation and camera metadata', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const { jpegWithGps } = await import('./jpeg.ts');
  const res = await upload(ctx, testCase.users.investigator, testCase.id, jpegWithGps(), { filename: 'photo.png' });
  t.equal(res.status, 201);
  t.equal(res.body.mediaType, 'image/jpeg', 'sniffed, not taken from the name or the part type');
  t.equal(res.body.capturedAt, '2024-05-06T07:08:09.000Z');
  t.ok(Math.abs(res.body.captureLocation.lat - 48.858194) < 1e-5);
  t.ok(Math.abs(res.body.captureLocation.lon - 2.2945) < 1e-5);
  t.equal(res.body.captureMetadata.Make, 'Custodia');
  t.equal(res.body.captureMetadata.Model, 'TestCam 1');
  const plain = await upload(ctx, testCase.users.investigator, testCase.id, randomBytes(100));
  t.equal(plain.body.mediaType, 'application/octet-stream');
  t.notOk('capturedAt' in plain.body);
  t.notOk('captureLocation' in plain.body);
  t.same(plain.body.captureMetadata, {});
});

t.test('intake records: collected custody entry, revision 1, audit entry, blob row', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const data = randomBytes(321);
  const res = await upload(ctx, testCase.users.investigator, testCase.id, data, { filename: '../../etc/pass\u0001wd' });
  t.equal(res.status, 201);
  t.equal(res.body.originalFilename, 'passwd', 'no directories or control characters kept');
  const entries = await ctx.db.custodyEntry.findMany({ where: { evidenceId: res.body.id } });
  t.equal(entries.length, 1);
  const entry = JSON.parse(entries[0]!.entry);
  t.equal(entry.action, 'collected');
  t.equal(entry.evidenceSha256, sha(data));
  t.same(entry.details, { sizeBytes: 321, mediaType: 'application/octet-stream', originalFilename: 'passwd' });
  const revisions = await ctx.db.revision.findMany({ where: { entityId: res.body.id } });
  t.same(revisions.map((r) => r.version), [1]);
  t.equal(await ctx.db.auditEntry.count({ where: { action: 'evidence.create', targetId: res.body.id } }), 1);
  const blob = await ctx.db.blob.findUnique({ where: { sha256: sha(data) } });
  t.equal(blob?.storageKey, `sha256/${sha(data).slice(0, 2)}/${sha(data).slice(2, 4)}/${sha(data)}`);
});

t.test('a transaction that fails after the bytes were committed removes them', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  await ctx.db.$executeRawUnsafe(`
    CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$`);
  await ctx.db.$executeRawUnsafe('CREATE TRIGGER test_refuse_custody BEFORE INSERT ON custody_queue FOR EACH ROW EXECUTE FUNCTION test_refuse()');
  const res = await upload(ctx, testCase.users.investigator, testCase.id, randomBytes(10_000));
  t.equal(res.status, 500);
  t.same(await evidenceCounts(ctx), { evidence: 0, blobs: 0, custody: 0 });
  t.same(await blobFiles(ctx.dataDir), []);
  t.notOk(JSON.stringify(res.body).includes('refused by test'), 'no SQL in the answer');

  // Bytes that another row already uses are kept.
  await ctx.db.$executeRawUnsafe('DROP TRIGGER test_refuse_custody ON custody_queue');
  const data = randomBytes(2048);
  const kept = await upload(ctx, testCase.users.investigator, testCase.id, data);
  t.equal(kept.status, 201);
  await ctx.db.$executeRawUnsafe('CREATE TRIGGER test_refuse_custody BEFORE INSERT ON custody_queue FOR EACH ROW EXECUTE FUNCTION test_refuse()');
  const again = await upload(ctx, testCase.users.investigator, testCase.id, data);
  t.equal(again.status, 500);
  t.equal((await blobFiles(ctx.dataDir)).length, 1, 'the shared blob stays');
});

t.test('multipart is only parsed by the evidence routes', async (t) => {
  const ctx = await createTestContext(t);
  const body = multipart([{ name: 'x', value: 'y' }]);
  const res = await ctx.inject(null, { method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': body.contentType }, payload: body.payload });
  t.ok(res.statusCode >= 400 && res.statusCode < 500, String(res.statusCode));
});
