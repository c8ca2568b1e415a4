// "A 20 GB video survives a dropped connection": over a real socket, a PATCH cut mid-way keeps
// the bytes that arrived, HEAD says how many, and a PATCH from there finishes the upload.
import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createTestContext, type TestUser } from '../helpers/app.ts';
import { metadata } from '../evidence/helpers.ts';
import { TUS, completeUpload, createUpload } from './helpers.ts';

const MiB = 1024 * 1024;

function request(port: number, user: TestUser, method: string, path: string, headers: Record<string, string>, body?: Buffer) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...TUS, authorization: `Bearer ${user.token}`, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('a PATCH cut mid-way resumes from the last byte received', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const user = testCase.users.investigator;
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ctx.app.server.address() as AddressInfo;
  t.equal(ctx.app.server.requestTimeout, 0, 'no server timeout cuts a long PATCH');

  const data = randomBytes(16 * MiB);
  const created = await createUpload(ctx, user, testCase.id, data.length, 'long-video.mp4');
  t.equal(created.status, 201);
  const file = join(ctx.dataDir, 'uploads', created.id);

  // Announce the whole file, send 5 MiB, wait until the server has written some, then drop the connection.
  const cut = http.request({
    host: '127.0.0.1',
    port,
    method: 'PATCH',
    path: created.location,
    headers: { ...TUS, authorization: `Bearer ${user.token}`, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0', 'content-length': String(data.length) },
  });
  const cutDone = new Promise<void>((resolve) => {
    cut.on('error', () => resolve());
    cut.on('close', () => resolve());
  });
  cut.write(data.subarray(0, 5 * MiB));
  for (let i = 0; i < 400; i++) {
    const size = (await stat(file)).size;
    if (size >= 4 * MiB) break;
    await sleep(25);
  }
  cut.destroy();
  await cutDone;

  // The server notices the drop and releases the upload; HEAD then tells what it kept.
  let offset = -1;
  for (let i = 0; i < 100; i++) {
    const head = await request(port, user, 'HEAD', created.location, {});
    t.equal(head.status, 200);
    offset = Number(head.headers['upload-offset']);
    if (offset === (await stat(file)).size) break;
    await sleep(50);
  }
  t.ok(offset > 0, `bytes received before the drop are kept (${offset})`);
  t.ok(offset <= 5 * MiB, 'no more than what was sent');
  t.equal(offset, (await stat(file)).size, 'HEAD says what is on disk');

  const resumed = await request(
    port,
    user,
    'PATCH',
    created.location,
    { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) },
    data.subarray(offset),
  );
  t.equal(resumed.status, 204);
  t.equal(resumed.headers['upload-offset'], String(data.length));

  const done = await completeUpload(ctx, user, created.id, await metadata());
  t.equal(done.status, 201);
  t.equal(done.body.sha256, createHash('sha256').update(data).digest('hex'), 'the evidence is the original, byte for byte');
});
