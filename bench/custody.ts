// `npm run bench:custody`: custody appends per second (8 concurrent writers on one case, each
// looping on the manual-append path: appendCustodyEvent with its audit entry, answered once its
// entry is committed with its seq), counted as entries in the log, beside a raw
// node-postgres insert loop (8 writers, one autocommitted row per statement), then the
// verification of a 100k-entry log and an inclusion proof over it.
// Runs on a scratch database on DATABASE_URL's server (an embedded PostgreSQL when unset),
// dropped afterwards. Prints `name: value unit` lines.
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { appendLeaf, canonicalize, EMPTY_TREE, entryLeafHash, inclusionProofFrom, rootOfState, subtreeHashes, treeStateToJson, type CustodyEntry } from '../src/custody/index.ts';
import { loadConfig } from '../src/config.ts';
import { generateSigningKey } from '../src/crypto/index.ts';
import { createDatabaseClient, type Database } from '../src/database/client.ts';
import { appendCustodyEvent } from '../src/modules/custody/custody.append.ts';
import { leafHashes } from '../src/modules/custody/custody.repository.ts';
import { verifyCaseLog } from '../src/modules/custody/custody.service.ts';
import { ensureSigningKey } from '../src/modules/custody/signing-keys.ts';
import { scratchDatabase } from './lib/database.ts';

const WRITERS = 8;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const VERIFY_ENTRIES = Number(process.env.BENCH_VERIFY_ENTRIES ?? 100_000);

const print = (name: string, value: number, unit: string) => process.stdout.write(`${name}: ${value} ${unit}\n`);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function seed(db: Database) {
  const user = await db.user.create({ data: { email: `bench-${randomBytes(4).toString('hex')}@example.org`, displayName: 'bench', role: 'member', passwordHash: 'x' } });
  const makeCase = async (reference: string) => {
    const created = await db.case.create({ data: { reference, title: reference, createdBy: user.id } });
    const sha256 = createHash('sha256').update(randomBytes(16)).digest('hex');
    await db.blob.upsert({ where: { sha256 }, create: { sha256, sizeBytes: 1n, storageKey: `sha256/${sha256}` }, update: {} });
    const evidence = await db.evidence.create({
      data: { caseId: created.id, sha256, sizeBytes: 1n, mediaType: 'text/plain', title: 'bench', source: { kind: 'bench' }, acquisition: 'direct_upload', collectedAt: new Date(), collectedBy: user.id, submittedBy: user.id },
    });
    return { caseId: created.id, evidenceId: evidence.id, sha256 };
  };
  return { userId: user.id, appendCase: await makeCase('BENCH-APPEND'), verifyCase: await makeCase('BENCH-VERIFY') };
}

/** Entries appended and integrated per second, and the latency of one append until its seq is known. */
async function benchAppends(db: Database, target: { caseId: string; evidenceId: string; sha256: string }, userId: string) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const deadline = Date.now() + SECONDS * 1000;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      for (let n = 0; Date.now() < deadline; n++) {
        const began = performance.now();
        // As the manual-append route does (its audit entry included): the entry with its seq.
        await appendCustodyEvent(
          db,
          { caseId: target.caseId, evidenceId: target.evidenceId, evidenceSha256: target.sha256, action: 'note', actorId: userId, details: { note: `writer ${writer}, event ${n}` } },
          { actorId: userId, action: 'custody.append', outcome: 'success', targetType: 'evidence', targetId: target.evidenceId, caseId: target.caseId, details: { custodyAction: 'note' } },
        );
        latencies.push(performance.now() - began);
      }
    }),
  );
  const entries = (await db.custodyLog.findUniqueOrThrow({ where: { caseId: target.caseId } })).size;
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { entries: Number(entries), seconds, p50: at(0.5), p99: at(0.99), clientCpu: (used.user + used.system) / 1e6 / seconds };
}

async function benchRawInserts(url: string) {
  const started = performance.now();
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query('CREATE TABLE bench_rows (id bigserial PRIMARY KEY, writer int NOT NULL, at timestamptz NOT NULL, payload text NOT NULL)');
  const clients = await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
  const deadline = Date.now() + SECONDS * 1000;
  const counts = await Promise.all(
    clients.map(async (client, writer) => {
      let n = 0;
      while (Date.now() < deadline) {
        await client.query('INSERT INTO bench_rows (writer, at, payload) VALUES ($1, now(), $2)', [writer, `{"writer":${writer},"n":${n}}`]);
        n++;
      }
      return n;
    }),
  );
  await Promise.all(clients.map((c) => c.end()));
  const seconds = (performance.now() - started) / 1000;
  await setup.query('DROP TABLE bench_rows');
  await setup.end();
  return { rows: counts.reduce((a, b) => a + b, 0), seconds };
}

/** Writes a log of `count` entries straight into the tables, in batches (not what is measured). */
async function buildLog(url: string, target: { caseId: string; evidenceId: string; sha256: string }, userId: string, count: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let state = EMPTY_TREE;
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let from = 0; from < count; from += 5000) {
    const seqs: number[] = [];
    const ats: string[] = [];
    const texts: string[] = [];
    const leaves: Buffer[] = [];
    for (let seq = from; seq < Math.min(from + 5000, count); seq++) {
      const entry: CustodyEntry = { v: 1, caseId: target.caseId, seq, evidenceId: target.evidenceId, evidenceSha256: target.sha256, action: 'accessed', actorId: userId, at: new Date(start + seq * 1000).toISOString(), details: { range: `bytes=0-${seq}` } };
      const leaf = entryLeafHash(entry);
      state = appendLeaf(state, leaf);
      seqs.push(seq);
      ats.push(entry.at);
      texts.push(canonicalize(entry));
      leaves.push(leaf);
    }
    await client.query(
      `INSERT INTO custody_entries (case_id, seq, evidence_id, action, actor_id, at, entry, leaf_hash)
       SELECT $1, s, $2, 'accessed', $3, a, e, l FROM unnest($4::bigint[], $5::timestamptz[], $6::text[], $7::bytea[]) AS u(s, a, e, l)`,
      [target.caseId, target.evidenceId, userId, seqs, ats, texts, leaves],
    );
  }
  await client.query('INSERT INTO custody_logs (case_id, size, frontier, root_hash) VALUES ($1, $2, $3, $4)', [
    target.caseId,
    state.size,
    JSON.stringify(treeStateToJson(state).frontier),
    rootOfState(state),
  ]);
  await client.end();
}

const scratch = await scratchDatabase();
process.stdout.write(`custody_database: ${scratch.where}\n`);
const url = scratch.url;
let db: Database | null = null;
try {
  db = createDatabaseClient(url, WRITERS + 2);
  const { userId, appendCase, verifyCase } = await seed(db);
  const config = loadConfig({ DATABASE_URL: url, CUSTODIA_DATA_DIR: tmpdir() });
  const keys = { signing: generateSigningKey('custodia-bench') };
  await ensureSigningKey(db, keys.signing, { warn: () => {} });

  const appended = await benchAppends(db, appendCase, userId);
  const appendRate = appended.entries / appended.seconds;
  print('custody_append_rate', round(appendRate), 'entries/s');
  print('custody_append_client_cpu', round(appended.clientCpu, 2), 'cores');
  print('custody_append_latency_p50', round(appended.p50, 2), 'ms');
  print('custody_append_latency_p99', round(appended.p99, 2), 'ms');
  const raw = await benchRawInserts(url);
  const rawRate = raw.rows / raw.seconds;
  print('raw_pg_insert_rate', round(rawRate), 'rows/s');
  print('custody_append_vs_raw', round((appendRate / rawRate) * 100), '%');

  const appendedCheck = await verifyCaseLog({ db, keys, config }, appendCase.caseId);
  print('custody_appended_log_valid', appendedCheck.valid && appendedCheck.size === appended.entries ? 1 : 0, 'bool');

  await buildLog(url, verifyCase, userId, VERIFY_ENTRIES);
  const started = performance.now();
  const result = await verifyCaseLog({ db, keys, config }, verifyCase.caseId);
  const seconds = (performance.now() - started) / 1000;
  if (!result.valid || result.size !== VERIFY_ENTRIES) throw new Error(`the built log did not verify: ${result.reason}`);
  print('custody_verify_entries', VERIFY_ENTRIES, 'entries');
  print('custody_verify_time', round(seconds, 2), 's');

  const proofStart = performance.now();
  const leaves = await leafHashes(db, verifyCase.caseId, VERIFY_ENTRIES);
  inclusionProofFrom(subtreeHashes(leaves), Math.floor(VERIFY_ENTRIES / 3), VERIFY_ENTRIES);
  print('custody_inclusion_proof_time', round(performance.now() - proofStart), 'ms');
} finally {
  await db?.$disconnect();
  await scratch.drop();
}
