// Background jobs: the upload-expiry handler (rows and bytes of expired uploads go, live ones stay),
// and pg-boss started and stopped against the test database, working a real job.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import t from 'tap';
import { createMetrics } from '../../src/http/metrics.ts';
import { JOBS_SCHEMA, runsWorkers, startJobs } from '../../src/jobs/jobs.ts';
import { JOBS } from '../../src/jobs/registry.ts';
import { expireUploads } from '../../src/modules/uploads/uploads.expire.ts';
import { createTestContext, type TestContext, type TestUser } from '../helpers/app.ts';
import { metadata } from '../evidence/helpers.ts';
import { completeUpload, createUpload, headUpload, patchUpload, uploadFiles } from '../uploads/helpers.ts';

async function startedUpload(ctx: TestContext, user: TestUser, caseId: string) {
  const created = await createUpload(ctx, user, caseId, 10);
  await patchUpload(ctx, user, created.id, 0, Buffer.from('12345'));
  return created.id;
}

async function expire(ctx: TestContext, id: string) {
  const past = new Date(Date.now() - 3600_000);
  await ctx.db.upload.update({ where: { id }, data: { createdAt: new Date(past.getTime() - 1000), expiresAt: past } });
}

const filesOf = async (ctx: TestContext, id: string) => (await uploadFiles(ctx.dataDir)).filter((name) => name.startsWith(id));

t.test('uploads.expire removes expired uploads, rows and bytes, and leaves the others', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const user = testCase.users.investigator;
  const expired = await startedUpload(ctx, user, testCase.id);
  const live = await startedUpload(ctx, user, testCase.id);
  const done = await createUpload(ctx, user, testCase.id, 0);
  t.equal((await completeUpload(ctx, user, done.id, await metadata())).status, 201);
  await expire(ctx, expired);
  await expire(ctx, done.id);
  // Files nobody owns: an old one is swept, a fresh one (its row may be on its way) is not.
  const oldOrphan = randomUUID();
  const freshOrphan = randomUUID();
  const directory = join(ctx.dataDir, 'uploads');
  for (const name of [oldOrphan, `${oldOrphan}.json`, freshOrphan]) await writeFile(join(directory, name), 'x');
  const longAgo = new Date(Date.now() - 2 * 3600_000);
  await utimes(join(directory, oldOrphan), longAgo, longAgo);
  await utimes(join(directory, `${oldOrphan}.json`), longAgo, longAgo);
  // Temporary blobs a killed process left: swept after a day without a write, not before.
  const blobTemps = join(ctx.dataDir, 'blobs', 'tmp');
  await mkdir(blobTemps, { recursive: true });
  const [abandonedTemp, recentTemp] = [randomUUID(), randomUUID()];
  for (const name of [abandonedTemp, recentTemp]) await writeFile(join(blobTemps, name), 'partial bytes');
  const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
  await utimes(join(blobTemps, abandonedTemp), twoDaysAgo, twoDaysAgo);
  await utimes(join(blobTemps, recentTemp), longAgo, longAgo);

  const result = await expireUploads({ db: ctx.db, config: ctx.config, log: ctx.app.log });
  t.same(result, { expired: 1, swept: 1, tempBlobsSwept: 1 });
  t.same(await readdir(blobTemps), [recentTemp], 'only the day-old temporary blob is gone');
  t.equal(await ctx.db.upload.count({ where: { id: expired } }), 0, 'the expired row is gone');
  t.same(await filesOf(ctx, expired), [], 'its bytes are gone');
  t.same(await filesOf(ctx, live), [live, `${live}.json`], 'a live upload keeps its bytes');
  const head = await headUpload(ctx, user, live);
  t.equal(head.headers['upload-offset'], '5', 'and stays resumable');
  t.ok(await ctx.db.upload.findUnique({ where: { id: done.id } }), 'a completed upload stays on record');
  t.same(await filesOf(ctx, oldOrphan), [], 'an old orphan is swept');
  t.same(await filesOf(ctx, freshOrphan), [freshOrphan], 'a fresh one is not');
  t.same(await expireUploads({ db: ctx.db, config: ctx.config, log: ctx.app.log }), { expired: 0, swept: 0, tempBlobsSwept: 0 }, 'nothing more to do');
});

t.test('where workers run', async (t) => {
  t.equal(runsWorkers('serve', { workers: 'inline' }), true);
  t.equal(runsWorkers('serve', { workers: 'external' }), false);
  t.equal(runsWorkers('worker', { workers: 'external' }), true);
  t.equal(runsWorkers('worker', { workers: 'inline' }), true);
  t.ok(JOBS.every((job) => /^[a-z]+\.[a-z]+$/.test(job.name)), 'queue names are <domain>.<verb>');
});

t.test('startJobs: pg-boss in its own schema, the expiry schedule, a job worked, a graceful stop', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const user = testCase.users.investigator;
  const expired = await startedUpload(ctx, user, testCase.id);
  await expire(ctx, expired);
  const deps = { config: ctx.config, db: ctx.db, databaseUrl: ctx.database.url, keys: ctx.keys, log: ctx.app.log, metrics: createMetrics(false) };

  const jobs = await startJobs({ ...deps, role: 'serve' });
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await jobs.stop();
  });
  t.equal(jobs.working, true);
  const client = new pg.Client({ connectionString: ctx.database.url });
  await client.connect();
  t.teardown(() => client.end());
  const schemas = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [JOBS_SCHEMA]);
  t.equal(schemas.rowCount, 1, 'the pgboss schema exists');
  const schedule = await client.query(`SELECT name, cron FROM ${JOBS_SCHEMA}.schedule ORDER BY name`);
  t.same(
    schedule.rows,
    [
      { name: 'auth.prune', cron: '41 * * * *' },
      { name: 'exports.rescue', cron: '* * * * *' },
      { name: 'integrity.check', cron: '17 3 * * 0' },
      { name: 'uploads.expire', cron: ctx.config.uploadExpirySchedule },
    ],
    'the scheduled jobs are installed',
  );
  const publicTables = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name ILIKE '%job%'");
  t.same(publicTables.rows, [], 'nothing of pg-boss in public');

  await t.rejects(jobs.send('no.such', {}), /no job queue/);
  t.ok(await jobs.send('uploads.expire', {}), 'a job sent');
  for (let i = 0; i < 200 && (await ctx.db.upload.count({ where: { id: expired } })) > 0; i++) await sleep(100);
  t.equal(await ctx.db.upload.count({ where: { id: expired } }), 0, 'the worker ran the job');
  t.same(await filesOf(ctx, expired), []);

  await jobs.stop();
  stopped = true;
  await jobs.stop(); // twice is harmless

  // A second start on the same database (another instance, or a restart) finds everything in place.
  const external = await startJobs({ ...deps, config: { ...ctx.config, workers: 'external' }, role: 'serve' });
  t.equal(external.working, false, 'serve leaves the jobs to `custodia worker`');
  t.equal((await client.query(`SELECT count(*)::int AS n FROM ${JOBS_SCHEMA}.schedule`)).rows[0].n, 4, 'still one schedule per scheduled job');
  await external.stop();
  const unscheduled = await startJobs({ ...deps, config: { ...ctx.config, workers: 'external', integrityCheckSchedule: null }, role: 'serve' });
  t.same((await client.query(`SELECT name FROM ${JOBS_SCHEMA}.schedule WHERE name = 'integrity.check'`)).rows, [], 'CUSTODIA_CHECK_SCHEDULE=off removes its schedule');
  await unscheduled.stop();
});

t.test('auth.prune forgets attempts older than both rate-limit windows', async (t) => {
  const ctx = await createTestContext(t);
  const keep = Math.max(ctx.config.loginAccountWindowSeconds, ctx.config.loginAddressWindowSeconds);
  const client = new pg.Client({ connectionString: ctx.database.url });
  await client.connect();
  t.teardown(() => client.end());
  await client.query('DELETE FROM login_attempts');
  await client.query(
    `INSERT INTO login_attempts (email, address, succeeded, at) VALUES
       ('old@example.org', '192.0.2.1', false, now() - make_interval(secs => $1 + 60)),
       ('edge@example.org', '192.0.2.2', false, now() - make_interval(secs => $1 - 60)),
       ('new@example.org', '192.0.2.3', true, now())`,
    [keep],
  );
  const prune = JOBS.find((job) => job.name === 'auth.prune')!;
  t.equal(await prune.handler({}, { db: ctx.db, config: ctx.config } as never, { send: async () => null }), 1, 'one row older than the windows');
  const left = await client.query('SELECT email FROM login_attempts ORDER BY email');
  t.same(left.rows.map((row) => row.email), ['edge@example.org', 'new@example.org'], 'rows still inside a window stay');
});
