// A tus upload outlives the process that received its first bytes: a new app instance (a
// restart: no hash in memory) takes the rest and completes it, or completes one it never saw a
// byte of. The evidence's hash is always the hash of the bytes stored.
import { createHash, randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { createTestContext, type TestContext, type TestUser } from '../helpers/app.ts';
import { metadata } from '../evidence/helpers.ts';
import { createUpload, patchUpload } from './helpers.ts';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The same database, data directory and keys as `ctx`, in a new app: what a restarted service is. */
async function restarted(t: Test, ctx: TestContext): Promise<TestContext> {
  const app = await buildApp({ config: ctx.config, db: ctx.db, keys: ctx.keys, metrics: createMetrics(false) });
  await app.ready();
  t.teardown(() => app.close());
  const inject: TestContext['inject'] = (as, options) => app.inject({ ...options, headers: { ...(options.headers as Record<string, string>), ...(as ? { authorization: `Bearer ${as.token}` } : {}) } });
  return { ...ctx, app, inject };
}

async function complete(ctx: TestContext, user: TestUser, id: string) {
  const response = await ctx.inject(user, { method: 'POST', url: `/api/v1/uploads/${id}/complete`, payload: (await metadata()) as object });
  return { status: response.statusCode, body: JSON.parse(response.body) as { id: string; sha256: string; sizeBytes: number } };
}

t.test('tus uploads across a restart', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const user = testCase.users.investigator;

  t.test('first bytes to one instance, the rest and complete to a new one', async (t) => {
    const data = randomBytes(3 * MiB + 11);
    const created = await createUpload(ctx, user, testCase.id, data.length, 'clip.bin');
    t.equal((await patchUpload(ctx, user, created.id, 0, data.subarray(0, MiB + 5))).statusCode, 204);
    const after = await restarted(t, ctx);
    t.equal((await patchUpload(after, user, created.id, MiB + 5, data.subarray(MiB + 5, 2 * MiB))).statusCode, 204);
    t.equal((await patchUpload(after, user, created.id, 2 * MiB, data.subarray(2 * MiB))).statusCode, 204);
    const done = await complete(after, user, created.id);
    t.equal(done.status, 201);
    t.equal(done.body.sha256, sha256(data), 'the hash of every byte, the first ones re-hashed from the disk');
    t.equal(done.body.sizeBytes, data.length);
    const content = await after.inject(user, { method: 'GET', url: `/api/v1/evidence/${done.body.id}/content` });
    t.ok(content.rawPayload.equals(data), 'the stored bytes are the uploaded ones');
  });

  t.test('every byte to one instance, complete to a new one: the file is read again', async (t) => {
    const data = randomBytes(2 * MiB + 1);
    const created = await createUpload(ctx, user, testCase.id, data.length, 'clip.bin');
    t.equal((await patchUpload(ctx, user, created.id, 0, data)).statusCode, 204);
    const after = await restarted(t, ctx);
    const done = await complete(after, user, created.id);
    t.equal(done.status, 201);
    t.equal(done.body.sha256, sha256(data));
  });
});
