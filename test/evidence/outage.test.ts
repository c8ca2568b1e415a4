// Intake when what the service stands on fails under it: the evidence storage fills up (under a
// multipart upload, under a tus PATCH), the database goes away in the middle of an upload. Each is a 503 problem the client can retry
// later, the operator reads why in the log, and nothing is left behind: no row, no custody
// entry, no file.
import { randomBytes } from 'node:crypto';
import { rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { FilesystemBlobStore, type TempBlob } from '../../src/storage/index.ts';
import { createTestContext } from '../helpers/app.ts';
import { urlFor } from '../helpers/database.ts';
import { createUpload, headUpload, patchUpload } from '../uploads/helpers.ts';
import { blobFiles, evidenceCounts, metadata, startUpload, upload, writeGenerated } from './helpers.ts';

const MiB = 1024 * 1024;

/** A filesystem store whose disk is full once `room` bytes of an upload are written. */
class FullDiskStore extends FilesystemBlobStore {
  constructor(
    root: string,
    private readonly room: number,
    private readonly failing: string,
  ) {
    super(root);
  }

  override async createTemp(): Promise<TempBlob> {
    const temp = await super.createTemp();
    const write = temp.write.bind(temp);
    let written = 0;
    Object.assign(temp, {
      write: async (chunk: Uint8Array) => {
        written += chunk.byteLength;
        if (written > this.room) throw Object.assign(new Error(`${this.failing}: no space left on device, write`), { code: this.failing, errno: -28, syscall: 'write' });
        return write(chunk);
      },
    });
    return temp;
  }
}

for (const code of ['ENOSPC', 'EDQUOT']) {
  t.test(`the evidence storage is full (${code}): 503, logged for the operator, nothing kept`, async (t) => {
    const ctx = await createTestContext(t, {}, { store: (config) => new FullDiskStore(join(config.dataDir, 'blobs'), 3 * MiB, code) });
    const testCase = await ctx.createCase();
    const res = await upload(ctx, testCase.users.investigator, testCase.id, randomBytes(8 * MiB));
    t.equal(res.status, 503);
    t.match(res.body, { code: 'service_unavailable', detail: 'The evidence storage is full.' });
    t.notMatch(JSON.stringify(res.body), /ENOSPC|EDQUOT|\/tmp|custodia-test/, 'no error text or path in the answer');
    t.same(await evidenceCounts(ctx), { evidence: 0, blobs: 0, custody: 0 });
    t.same(await blobFiles(ctx.dataDir), [], 'the partial file is removed');
    const logged = ctx.logs.map((line) => JSON.parse(line) as { level: number; msg: string; errorCode?: string });
    t.ok(
      logged.some((line) => line.level >= 50 && line.msg === 'the evidence storage is full' && line.errorCode === code),
      'an error in the log says why',
    );

    const small = await upload(ctx, testCase.users.investigator, testCase.id, randomBytes(MiB));
    t.equal(small.status, 201, 'an upload that fits still goes through');
  });
}

t.test('the evidence storage is full under a tus PATCH: 503, logged, and the upload resumes once there is room', async (t) => {
  // Linux's /dev/full refuses every write with ENOSPC; direct I/O is off because a device refuses that first.
  const ctx = await createTestContext(t, { CUSTODIA_DIRECT_IO: 'false' });
  const testCase = await ctx.createCase();
  const investigator = testCase.users.investigator;
  const created = await createUpload(ctx, investigator, testCase.id, 10);
  const dataFile = join(ctx.dataDir, 'uploads', created.id);
  await rm(dataFile);
  await symlink('/dev/full', dataFile);

  const refused = await patchUpload(ctx, investigator, created.id, 0, Buffer.from('12345'));
  t.equal(refused.statusCode, 503);
  t.equal(refused.body, 'The evidence storage is full.\n');
  const logged = ctx.logs.map((line) => JSON.parse(line) as { level: number; msg: string; errorCode?: string });
  t.ok(
    logged.some((line) => line.level >= 50 && line.msg === 'the evidence storage is full' && line.errorCode === 'ENOSPC'),
    'an error in the log says why',
  );

  // Room again: the upload's file is a plain (empty) file once more.
  await rm(dataFile);
  await writeFile(dataFile, '');
  t.equal((await headUpload(ctx, investigator, created.id)).headers['upload-offset'], '0', 'nothing counted as received');
  t.equal((await patchUpload(ctx, investigator, created.id, 0, Buffer.from('12345'))).statusCode, 204, 'with room again, the same PATCH goes through');
});

t.test('the database goes away mid-upload: 503, the partial file removed, and the service recovers', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ctx.app.server.address() as AddressInfo;
  const admin = new pg.Client({ connectionString: urlFor('postgres') });
  await admin.connect();
  const database = ctx.database.name;
  const setAllowed = async (allowed: boolean) => {
    await admin.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS ${allowed}`);
    if (!allowed) await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  };
  t.teardown(async () => {
    await setAllowed(true);
    await admin.end();
  });

  const started = startUpload(port, testCase.users.investigator, testCase.id, await metadata());
  await writeGenerated(started.request, 4 * MiB);
  for (let i = 0; i < 100 && (await blobFiles(ctx.dataDir)).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal((await blobFiles(ctx.dataDir)).length, 1, 'the server was writing a temporary file');
  await setAllowed(false);
  await writeGenerated(started.request, 4 * MiB);
  started.end();
  const res = await started.response;
  t.equal(res.status, 503);
  t.equal(res.headers['retry-after'], '10', 'a time to come back');
  t.match(JSON.parse(res.body), { code: 'service_unavailable', detail: 'The database is unavailable; try again shortly.' });
  t.notMatch(res.body, /postgres|ECONN|terminat|57P|ALLOW_CONNECTIONS|custodia_test/i, 'no database detail in the answer');
  t.same(await blobFiles(ctx.dataDir), [], 'the partial file is removed');
  const logged = ctx.logs.map((line) => JSON.parse(line) as { level: number; msg: string; errorCode?: string });
  t.ok(
    logged.some((line) => line.level >= 50 && line.msg === 'the database is unavailable' && typeof line.errorCode === 'string'),
    'an error in the log says why',
  );

  await setAllowed(true);
  t.same(await evidenceCounts(ctx), { evidence: 0, blobs: 0, custody: 0 }, 'no row, no custody entry');
  const again = await upload(ctx, testCase.users.investigator, testCase.id, randomBytes(MiB));
  t.equal(again.status, 201, 'the next upload goes through, same process');
});
