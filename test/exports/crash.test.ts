// A worker killed in the middle of building a bundle: pg-boss fails the job once its expiry has
// passed and retries it; the retry reuses the dead attempt's custody entries (never appends them
// twice) and produces a bundle that verifies.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import PgBoss from 'pg-boss';
import t from 'tap';
import { signingKeyToPem } from '../../src/crypto/index.ts';
import type { Caller } from '../../src/http/caller.ts';
import { registerEvidenceFromFile } from '../../src/modules/evidence/evidence.intake.ts';
import { blobStoreFor } from '../../src/storage/index.ts';
import { createTestContext } from '../helpers/app.ts';
import { spawnCustodia } from '../helpers/cli.ts';
import { metadata } from '../evidence/helpers.ts';
import { verifyInProcess } from './fixture.ts';
import { startTestJobs, waitForExport } from './realistic-case.ts';

const BIG = 256 * 1024 * 1024;

const ctx = await createTestContext(t, { CUSTODIA_EXPORT_TIMEOUT: '8s', CUSTODIA_INSTANCE_ID: 'crash-test' });
// Queues and schema, no worker: the child process is the first to take the job.
await startTestJobs(t, ctx, { working: false });
const testCase = await ctx.createCase();
const { lead, investigator } = testCase.users;

async function bigEvidence(): Promise<string> {
  const path = join(ctx.dataDir, `big-${randomUUID()}.bin`);
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  let left = BIG / block.length;
  await pipeline(
    new Readable({
      read() {
        this.push(left-- > 0 ? block : null);
      },
    }),
    createWriteStream(path),
  );
  const caller: Caller = { user: { id: investigator.id, role: 'member', sessionId: randomUUID() }, requestId: 'test', address: '127.0.0.1', userAgent: null };
  const view = await registerEvidenceFromFile(
    { db: ctx.db, config: ctx.config, store: blobStoreFor(ctx.config) },
    caller,
    testCase.id,
    { path, originalFilename: 'drone-footage.bin' },
    await metadata({ title: 'Drone footage' }),
  );
  return view.id;
}

t.test('a worker killed mid-export: the job is retried and the result verifies', async (t) => {
  const bigId = await bigEvidence();
  const started = await ctx.json(lead, 'POST', `/api/v1/cases/${testCase.id}/exports`, {});
  t.equal(started.status, 202);
  const exportId: string = started.body.id;

  // `custodia worker` in a child process, on the same database, data directory and keys.
  const child = spawnCustodia(
    ['worker'],
    {
      DATABASE_URL: ctx.database.url,
      CUSTODIA_DATA_DIR: ctx.dataDir,
      CUSTODIA_INSTANCE_ID: 'crash-test',
      CUSTODIA_MASTER_KEY: ctx.config.masterKey!,
      CUSTODIA_SIGNING_KEY: signingKeyToPem(ctx.keys.signing),
      CUSTODIA_SIGNING_KEY_NAME: ctx.keys.signing.name,
      CUSTODIA_EXPORT_TIMEOUT: '8s',
      LOG_LEVEL: 'warn',
    },
    ['ignore', 'ignore', 'pipe'],
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

  // Kill it once the attempt has recorded its custody entries and is reading the evidence.
  const until = Date.now() + 120_000;
  for (;;) {
    if (Date.now() > until) throw new Error(`the child never got going: ${stderr}`);
    const row = await ctx.db.export.findUniqueOrThrow({ where: { id: exportId } });
    if (row.custodyRecordedAt) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');
  const killed = await ctx.db.export.findUniqueOrThrow({ where: { id: exportId } });
  t.equal(killed.status, 'running', 'killed mid-export');
  t.equal(killed.segments, null);
  t.equal(killed.attempts, 1);
  t.ok(killed.custodyRecordedAt, 'the dead attempt had recorded the custody entries');
  t.equal((await ctx.json(lead, 'GET', `/api/v1/exports/${exportId}/download`)).status, 409, 'nothing to download');

  // A worker here now; pg-boss's expiry (run on demand rather than on its 2-minute timer) fails
  // the dead attempt, and its retry comes to this worker.
  await startTestJobs(t, ctx);
  const boss = new PgBoss({ connectionString: ctx.database.url, schema: 'pgboss', supervise: false, schedule: false, migrate: false });
  await boss.start();
  t.teardown(() => boss.stop({ graceful: false }));
  const expire = setInterval(() => (boss as unknown as { expire(): Promise<void> }).expire().catch(() => {}), 1000);
  t.teardown(() => clearInterval(expire));
  const done = await waitForExport(ctx, lead, exportId, 120_000);
  clearInterval(expire);
  t.equal(done.status, 'done', JSON.stringify(done));
  const row = await ctx.db.export.findUniqueOrThrow({ where: { id: exportId } });
  t.ok(row.attempts >= 2, `retried (${row.attempts} attempts)`);

  // One `exported` entry per item, however many attempts.
  const exported = await ctx.db.custodyEntry.count({ where: { caseId: testCase.id, action: 'exported' } });
  t.equal(exported, 1);
  t.same(row.includedEvidenceIds, [bigId]);
  // No leftovers: the blob store holds no temporary file.
  t.same(await readdir(join(ctx.dataDir, 'blobs', 'tmp')).catch(() => []), []);

  const download = await ctx.inject(lead, { method: 'GET', url: `/api/v1/exports/${exportId}/download` });
  t.equal(download.statusCode, 200);
  t.equal(download.rawPayload.length, done.bytes);
  const zipPath = join(ctx.dataDir, 'downloaded.zip');
  await writeFile(zipPath, download.rawPayload);
  const result = await verifyInProcess([zipPath]);
  t.equal(result.code, 0, result.stdout + result.stderr);
});
