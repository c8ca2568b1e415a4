import { randomBytes, createHash } from 'node:crypto';
import pg from 'pg';
import { createDatabaseClient } from './src/database/client.ts';
import { migrate } from './src/database/migrate.ts';
import { appendCustodyEntry, integrateCustodyQueue } from './src/modules/custody/custody.append.ts';
const name = 'scratch_helper9_prof';
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${name}`);
const url = `postgres://postgres@127.0.0.1:5432/${name}`;
try {
  await migrate(url);
  const db = createDatabaseClient(url, 12);
  const user = await db.user.create({ data: { email: 'a@b.c', displayName: 'x', role: 'member', passwordHash: 'x' } });
  const c = await db.case.create({ data: { reference: 'R', title: 'R', createdBy: user.id } });
  const sha256 = createHash('sha256').update(randomBytes(4)).digest('hex');
  await db.blob.create({ data: { sha256, sizeBytes: 1n, storageKey: 'k' } });
  const ev = await db.evidence.create({ data: { caseId: c.id, sha256, sizeBytes: 1n, mediaType: 'x', title: 't', source: {}, acquisition: 'a', collectedAt: new Date(), collectedBy: user.id, submittedBy: user.id } });
  const append = () => db.$transaction((tx) => appendCustodyEntry(tx, { caseId: c.id, evidenceId: ev.id, evidenceSha256: sha256, action: 'accessed', actorId: user.id, details: {} }));
  const time = async (label: string, n: number, writers: number, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: writers }, async () => { for (let i = 0; i < n; i++) await fn(); }));
    const ms = performance.now() - t0;
    console.log(`${label}: ${(ms / n).toFixed(1)} ms/loop per writer, ${((n * writers) / ms * 1000).toFixed(0)} ops/s`);
  };
  const clients = await Promise.all(Array.from({ length: 8 }, async () => { const k = new pg.Client({ connectionString: url }); await k.connect(); return k; }));
  await clients[0]!.query('CREATE TABLE r (id bigserial primary key, p text)');
  let k = 0;
  const raw = () => clients[k++ % 8]!.query("INSERT INTO r (p) VALUES ('x')");
  await time('raw insert x1', 50, 1, raw);
  { const t0 = performance.now(); await Promise.all(clients.map(async (cl) => { for (let i = 0; i < 30; i++) await cl.query("INSERT INTO r (p) VALUES ('x')"); })); console.log('raw insert x8 (own clients):', (240 / (performance.now() - t0) * 1000).toFixed(0), 'ops/s'); }
  await time('raw begin/insert/commit x1', 30, 1, async () => { const cl = clients[0]!; await cl.query('BEGIN'); await cl.query("INSERT INTO r (p) VALUES ('x')"); await cl.query('COMMIT'); });
  await time('append only x1', 50, 1, append);
  await time('integrate (pending 50) x1', 1, 1, () => integrateCustodyQueue(db, c.id));
  await time('append only x8', 30, 8, append);
  await time('integrate 240', 1, 1, () => integrateCustodyQueue(db, c.id));
  await time('append+integrate x1', 30, 1, async () => { await append(); await integrateCustodyQueue(db, c.id); });
  await time('append+integrate x8', 20, 8, async () => { await append(); await integrateCustodyQueue(db, c.id); });
  await time('empty $transaction x1', 30, 1, () => db.$transaction(async (tx) => { await tx.$queryRaw`SELECT 1`; }));
  await time('raw select x1', 30, 1, () => db.$queryRaw`SELECT 1`);
  await db.$disconnect();
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
