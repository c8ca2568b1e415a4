// Uploads and downloads over a real socket: a 200 MiB streamed body (never held in memory by the
// test), and a client that disconnects mid-upload.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createTestContext } from '../helpers/app.ts';
import { blobFiles, evidenceCounts, metadata, startUpload, writeGenerated } from './helpers.ts';

const MiB = 1024 * 1024;


t.test('200 MiB over a real socket, streamed both ways', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ctx.app.server.address() as AddressInfo;
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  t.teardown(() => clearInterval(sampler));

  const size = 200 * MiB;
  const upload = startUpload(port, testCase.users.investigator, testCase.id, await metadata());
  const expected = await writeGenerated(upload.request, size);
  upload.end();
  const res = await upload.response;
  t.equal(res.status, 201, res.body.slice(0, 300));
  const evidence = JSON.parse(res.body);
  t.equal(evidence.sha256, expected);
  t.equal(evidence.sizeBytes, size);

  const download = await new Promise<{ status: number; sha256: string; bytes: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/api/v1/evidence/${evidence.id}/content`, headers: { authorization: `Bearer ${testCase.users.reviewer.token}` } }, (r) => {
        const hash = createHash('sha256');
        let bytes = 0;
        r.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
        });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, sha256: hash.digest('hex'), bytes, headers: r.headers }));
        r.on('error', reject);
      })
      .on('error', reject);
  });
  t.equal(download.status, 200);
  t.equal(download.bytes, size);
  t.equal(download.sha256, expected);
  t.equal(download.headers['content-length'], String(size));
  clearInterval(sampler);
  // Server and client share this process: the growth bounds both.
  const growthMiB = (rssPeak - rssBefore) / MiB;
  t.ok(growthMiB < 150, `resident memory grew by ${growthMiB.toFixed(0)} MiB while moving 400 MiB`);
});

t.test('a client that disconnects mid-upload leaves no row, no entry and no file', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ctx.app.server.address() as AddressInfo;

  const upload = startUpload(port, testCase.users.investigator, testCase.id, await metadata());
  upload.response.catch(() => {});
  upload.request.on('error', () => {});
  const block = randomBytes(MiB);
  let seen = false;
  for (let i = 0; i < 200 && !seen; i++) {
    if (!upload.request.write(block)) await new Promise((resolve) => upload.request.once('drain', resolve));
    seen = (await blobFiles(ctx.dataDir)).length > 0;
  }
  t.ok(seen, 'the server was writing a temporary file');
  upload.request.destroy();

  const deadline = Date.now() + 10_000;
  let files = await blobFiles(ctx.dataDir);
  while (files.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    files = await blobFiles(ctx.dataDir);
  }
  t.same(files, [], 'the temporary file is gone');
  t.same(await evidenceCounts(ctx), { evidence: 0, blobs: 0, custody: 0 });
});
