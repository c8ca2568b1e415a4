// `npm run bench:api`: the API's read path against a bare Fastify + node-postgres route doing the
// same SELECT, in the same process and on the same database; login latency (argon2id cost); and
// `npm start` time to ready on an initialised data directory. Figures printed, not asserted.
// Goals: ratio ≥ 0.4, p99 ≤ 25 ms, start ≤ 3 s.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createMasterKeyring, generateMasterKey, generateSigningKey } from '../src/crypto/index.ts';
import { createDatabaseClient } from '../src/database/client.ts';
import { createMetrics } from '../src/http/metrics.ts';
import { hashPassword } from '../src/modules/auth/passwords.ts';
import { freePort, scratchDatabase } from './lib/database.ts';
import { percentile, report } from './lib/report.ts';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const PASSWORD = 'benchmark password, long enough';
const ROOT = new URL('..', import.meta.url).pathname;

async function load(url: string, headers: Record<string, string> = {}) {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function post(base: string, path: string, body: unknown, token?: string) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as any;
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function apiAndBaseline(): Promise<void> {
  const database = await scratchDatabase();
  report('database', database.where);
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-bench-'));
  const config = loadConfig({
    CUSTODIA_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'info',
    CUSTODIA_LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '1000000',
  });
  const db = createDatabaseClient(database.url);
  const keys = { masterRing: createMasterKeyring(generateMasterKey()), signing: generateSigningKey('custodia-bench') };
  // Request logging stays on, as in production, written where it costs the same and shows nothing.
  const app = await buildApp({ config, db, keys, metrics: createMetrics(), logStream: createWriteStream('/dev/null') });
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  const base = `http://127.0.0.1:${port}/api/v1`;

  const pool = new pg.Pool({ connectionString: database.url, max: 10 });
  const bare = Fastify({ logger: false });
  bare.get<{ Params: { id: string } }>('/cases/:id', async (request, reply) => {
    const { rows } = await pool.query('SELECT id, reference, title, description, status, version, created_at FROM cases WHERE id = $1', [request.params.id]);
    if (!rows[0]) return reply.code(404).send({ code: 'not_found' });
    return rows[0];
  });
  const barePort = await freePort();
  await bare.listen({ host: '127.0.0.1', port: barePort });

  try {
    const passwordHash = await hashPassword(PASSWORD);
    const admin = await db.user.create({ data: { email: 'admin@bench.example', displayName: 'Admin', role: 'admin', passwordHash } });
    const lead = await db.user.create({ data: { email: 'lead@bench.example', displayName: 'Lead', role: 'member', passwordHash } });

    const logins: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      await post(base, '/auth/login', { email: i % 2 ? admin.email : lead.email, password: PASSWORD });
      logins.push(performance.now() - start);
    }
    report('login_p50', percentile(logins, 50), 'ms');
    report('login_p99', percentile(logins, 99), 'ms');

    const adminToken = (await post(base, '/auth/login', { email: admin.email, password: PASSWORD })).token as string;
    const created = await post(base, '/cases', { reference: 'BENCH-1', title: 'Benchmark case', description: 'x'.repeat(200), leadUserId: lead.id }, adminToken);
    const leadToken = (await post(base, '/auth/login', { email: lead.email, password: PASSWORD })).token as string;

    const apiUrl = `${base}/cases/${created.id}`;
    const check = await fetch(apiUrl, { headers: { authorization: `Bearer ${leadToken}` } });
    if (check.status !== 200) throw new Error(`GET /cases/{id} answered ${check.status}`);

    // Warm-up, both sides (JIT, pools), not measured.
    await load(`http://127.0.0.1:${barePort}/cases/${created.id}`);
    await load(apiUrl, { authorization: `Bearer ${leadToken}` });
    const baseline = await load(`http://127.0.0.1:${barePort}/cases/${created.id}`);
    const api = await load(apiUrl, { authorization: `Bearer ${leadToken}` });
    report('baseline_get_case_rps', baseline.rps, 'req/s');
    report('baseline_get_case_p50', baseline.p50, 'ms');
    report('baseline_get_case_p99', baseline.p99, 'ms');
    report('api_get_case_rps', api.rps, 'req/s');
    report('api_get_case_p50', api.p50, 'ms');
    report('api_get_case_p99', api.p99, 'ms');
    report('api_to_baseline_ratio', api.rps / baseline.rps);
  } finally {
    await app.close();
    await bare.close();
    await pool.end();
    await db.$disconnect();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** `npm start` on a data directory: answers the milliseconds until /health/ready says 200. */
async function startToReady(dataDir: string): Promise<number> {
  const port = await freePort();
  const pgPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, CUSTODIA_DATA_DIR: dataDir, PORT: String(port), CUSTODIA_EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  const started = performance.now();
  // What `npm start` runs (the build from `npm ci`, or src/ through tsx when a source file is newer),
  // without npm in between: npm does not pass SIGTERM on to its child.
  const child = spawn(process.execPath, ['bin/custodia.js', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error('the service exited before it was ready');
      const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGTERM'); // the service closes gracefully
    await exited;
    // npm may exit before the service has finished closing: its lock file goes last.
    for (let waited = 0; existsSync(join(dataDir, 'custodia.pid')) && waited < 60_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  }
}

async function startTime(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-bench-start-'));
  await chmod(dataDir, 0o755);
  try {
    report('start_first_run_ms', await startToReady(dataDir), 'ms (initialises the cluster)');
    report('start_to_ready', await startToReady(dataDir), 'ms');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

await apiAndBaseline();
await startTime();
process.exit(0);
