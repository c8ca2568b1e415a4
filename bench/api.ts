// `npm run bench:api`: the API's read path against a bare Fastify + node-postgres route doing the
// same SELECT, on the same database; login latency (argon2id cost); and `npm start` time to ready
// on an initialised data directory. Figures printed, not asserted. Goals: ratio ≥ 0.4, p99 ≤ 25 ms,
// start ≤ 3 s.
//
// Both servers run as processes of their own, the service as production starts it (what `npm
// start` runs, node flags included, through bin/custodia.js: the build in dist/, so `npm run
// build` after changing src/),
// the baseline from bench/lib/bare-server.ts; this process only generates the load (autocannon).
// Each server's CPU time per request (from /proc), and that of the PostgreSQL backends serving the
// scratch database, are printed beside its latency: they are the figures that other work on the
// machine disturbs least. BENCH_API_NODE_ARGS replaces npm start's node flags for the service's
// process (empty: V8's defaults), e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile under load.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createDatabaseClient } from '../src/database/client.ts';
import { hashPassword } from '../src/modules/auth/passwords.ts';
import { freePort, scratchDatabase } from './lib/database.ts';
import { plainNodeArgs } from './lib/plain-node.ts';
import { serviceArgs } from './lib/service.ts';
import { percentile, report } from './lib/report.ts';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const PASSWORD = 'benchmark password, long enough';
const ROOT = new URL('..', import.meta.url).pathname;

/** CPU time (user + system, every thread) a process has used so far, in ms; 0 once it is gone. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** The PostgreSQL backends serving `database` (their title names it), by pid; none without /proc. */
function backendsOf(database: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  // "postgres: [cluster name: ]user database address state"
  const title = new RegExp(`^postgres: (?:\\S+: )?\\S+ ${database} `);
  return pids.map(Number).filter((pid) => {
    try {
      return title.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/** CPU time of the server and of the database's backends, so far (NaN without /proc). */
function cpuSnapshot(server: ChildProcess, database: string) {
  if (!existsSync('/proc/self/stat')) return { server: NaN, backends: new Map<number, number>() };
  return { server: cpuMs(server.pid!), backends: new Map(backendsOf(database).map((pid) => [pid, cpuMs(pid)])) };
}

/** Under load: req/s, latency, and CPU per request of the server and of PostgreSQL (its backends on this database). */
async function load(url: string, server: ChildProcess, database: string, headers: Record<string, string> = {}) {
  const before = cpuSnapshot(server, database);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers });
  const after = cpuSnapshot(server, database);
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  let databaseCpu = 0;
  for (const [pid, ms] of after.backends) databaseCpu += ms - (before.backends.get(pid) ?? 0);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPerRequest: (after.server - before.server) / result.requests.total,
    databaseCpuPerRequest: Number.isNaN(before.server) ? NaN : databaseCpu / result.requests.total,
  };
}

interface Server {
  child: ChildProcess;
  /** Milliseconds from spawn until `readyUrl` answered 200. */
  readyMs: number;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
}

/** Spawns `node …args` in the repository and waits until `readyUrl` answers 200. */
async function startServer(args: string[], env: NodeJS.ProcessEnv, readyUrl: string): Promise<Server> {
  const started = performance.now();
  // Logs go to /dev/null: written (their cost counted), shown nowhere.
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited before it was ready`);
      const ok = await fetch(readyUrl).then((r) => r.status === 200, () => false);
      if (ok) return { child, readyMs: performance.now() - started, stop };
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (error) {
    await stop();
    throw error;
  }
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
  const servers: Server[] = [];
  const db = createDatabaseClient(database.url, 2);
  try {
    const port = await freePort();
    const api = await startServer(
      process.env.BENCH_API_NODE_ARGS === undefined ? serviceArgs() : [...process.env.BENCH_API_NODE_ARGS.split(' ').filter(Boolean), 'bin/custodia.js', 'serve'],
      {
        ...process.env,
        CUSTODIA_DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        HOST: '127.0.0.1',
        PORT: String(port),
        // Request logging stays on, as in production.
        LOG_LEVEL: 'info',
        CUSTODIA_LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '1000000',
      },
      `http://127.0.0.1:${port}/health/ready`,
    );
    servers.push(api);
    const base = `http://127.0.0.1:${port}/api/v1`;

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

    const barePort = await freePort();
    const bareUrl = `http://127.0.0.1:${barePort}/cases/${created.id}`;
    const bare = await startServer(await plainNodeArgs(join(ROOT, 'bench/lib/bare-server.ts')), { ...process.env, DATABASE_URL: database.url, PORT: String(barePort) }, bareUrl);
    servers.push(bare);

    const apiUrl = `${base}/cases/${created.id}`;
    const headers = { authorization: `Bearer ${leadToken}` };
    const check = await fetch(apiUrl, { headers });
    if (check.status !== 200) throw new Error(`GET /cases/{id} answered ${check.status}`);

    // Warm-up, both sides (JIT, pools), not measured.
    const name = new URL(database.url).pathname.slice(1);
    await load(bareUrl, bare.child, name);
    await load(apiUrl, api.child, name, headers);
    const baseline = await load(bareUrl, bare.child, name);
    const measured = await load(apiUrl, api.child, name, headers);
    report('baseline_get_case_rps', baseline.rps, 'req/s');
    report('baseline_get_case_p50', baseline.p50, 'ms');
    report('baseline_get_case_p99', baseline.p99, 'ms');
    report('baseline_cpu_per_request', baseline.cpuPerRequest, 'ms');
    report('baseline_db_cpu_per_request', baseline.databaseCpuPerRequest, 'ms');
    report('api_get_case_rps', measured.rps, 'req/s');
    report('api_get_case_p50', measured.p50, 'ms');
    report('api_get_case_p99', measured.p99, 'ms');
    report('api_cpu_per_request', measured.cpuPerRequest, 'ms');
    report('api_db_cpu_per_request', measured.databaseCpuPerRequest, 'ms');
    report('api_to_baseline_ratio', measured.rps / baseline.rps);
  } finally {
    for (const server of servers) await server.stop();
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
  // What `npm start` runs (the build from `npm ci`, or src/ through tsx when a source file is newer),
  // without npm in between: npm does not pass SIGTERM on to its child.
  const server = await startServer(serviceArgs(), env, `http://127.0.0.1:${port}/health/ready`);
  await server.stop(); // the service closes gracefully
  // Its lock file goes last.
  for (let waited = 0; existsSync(join(dataDir, 'custodia.pid')) && waited < 60_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  return server.readyMs;
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
