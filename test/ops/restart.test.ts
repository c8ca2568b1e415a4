// The real service, as `npm start` runs it: an embedded PostgreSQL in a data directory, restarted
// cleanly (SIGTERM), then after a SIGKILL that orphans the postmaster; the data survives both.
// Also: DATABASE_URL means no embedded cluster, a bad setting exits 78 naming it, and the
// metrics answer on their own address only.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { spawnCustodia } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { freePort, waitFor } from './embedded-cluster.ts';

const PASSWORD = 'a long enough password for the restart test';

/** The service's own settings only: no DATABASE_URL unless the test names one. */
function cleanEnv(extra: Record<string, string>): Record<string, string | undefined> {
  return { LOG_LEVEL: 'info', DATABASE_URL: undefined, ...extra };
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[], env: Record<string, string | undefined>, stdin?: string): Running {
  const child = spawnCustodia(args, env);
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  child.stdin!.end(stdin ?? '');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => text, exited };
}

async function isReady(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
  return response.status === 200;
}

/** Pids of live processes whose command line mentions `needle` (our own postgres processes). */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

t.test('the service keeps its data across restarts, SIGKILL included', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-restart-'));
  await chmod(dataDir, 0o755); // as root, PostgreSQL runs as "postgres" and must enter it
  const clusterDir = join(dataDir, 'postgres');
  const [port, pgPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const env = cleanEnv({ CUSTODIA_DATA_DIR: dataDir, PORT: String(port), CUSTODIA_EMBEDDED_PG_PORT: String(pgPort), CUSTODIA_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` });
  let server: Running | null = null;
  t.teardown(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    for (const pid of await processesMentioning(clusterDir)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    server = run(['serve'], env);
    const current = server;
    await waitFor('the service to be ready', async () => {
      if (current.child.exitCode !== null) throw new Error(`serve exited early:\n${current.output()}`);
      return isReady(port);
    }, 90_000, 200);
    return current;
  };
  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
    const password = (await readFile(join(dataDir, 'keys', 'embedded-postgres.password'), 'utf8')).trim();
    const client = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', password, database: 'custodia' });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const api = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json().catch(() => null)) as any };
  };

  let first = await start();
  t.ok(existsSync(join(clusterDir, 'PG_VERSION')), 'an embedded cluster in the data directory');

  // The first admin, as the README says: `custodia user create … --password-stdin`.
  const email = 'ada@example.org';
  const create = run(['user', 'create', '--email', email, '--display-name', 'Ada', '--role', 'admin', '--password-stdin'], env, `${PASSWORD}\n`);
  const created = await create.exited;
  t.equal(created.code, 0, `user create succeeds beside the running service${created.code ? `:\n${create.output()}` : ''}`);
  t.notOk(create.output().includes(PASSWORD), 'the password is not echoed');

  const login = await api('POST', '/auth/login', { email, password: PASSWORD });
  t.equal(login.status, 200, 'the new admin can sign in');
  const token = login.body?.token as string;
  const [user] = await query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]);
  t.ok(user, 'the user is in the database');
  const newCase = await api('POST', '/cases', { reference: 'RESTART-1', title: 'Survives restarts', leadUserId: user!.id }, token);
  t.equal(newCase.status, 201, 'a case is created');
  const caseId = newCase.body?.id as string;

  // Metrics on their own address, not on the public port.
  const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  t.equal(metrics.status, 200, 'metrics answer on CUSTODIA_METRICS_ADDRESS');
  const metricsText = await metrics.text();
  t.match(metricsText, /custodia_http_requests_total\{[^}]*route="\/health\/ready"/, 'request counts by route');
  t.match(metricsText, /custodia_http_request_duration_seconds_bucket/, 'latency histogram');
  const free = Number(/^custodia_storage_free_bytes (\d+)$/m.exec(metricsText)?.[1]);
  const size = Number(/^custodia_storage_size_bytes (\d+)$/m.exec(metricsText)?.[1]);
  t.ok(free > 0 && size >= free, `room on the data directory's filesystem (${free} of ${size} bytes free)`);
  t.match(metricsText, /^custodia_integrity_check_finished_seconds nan$/im, 'the latest integrity check, none yet on a new service');
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, 'no /metrics on the public port');

  const stillThere = async (label: string) => {
    const users = await query('SELECT 1 FROM users WHERE email = $1', [email]);
    const cases = await query<{ title: string }>('SELECT title FROM cases WHERE id = $1', [caseId]);
    t.equal(users.length, 1, `${label}: the user is still there`);
    t.same(cases.map((c) => c.title), ['Survives restarts'], `${label}: the case is still there`);
    const again = await api('POST', '/auth/login', { email, password: PASSWORD });
    t.equal(again.status, 200, `${label}: the admin still signs in`);
    const read = await api('GET', `/cases/${caseId}`, undefined, again.body?.token);
    t.equal(read.status, 200, `${label}: the case reads through the API`);
  };

  first.child.kill('SIGTERM');
  const clean = await first.exited;
  t.same(clean, { code: 0, signal: null }, 'SIGTERM: a clean exit');
  t.notOk(existsSync(join(clusterDir, 'postmaster.pid')), 'the embedded PostgreSQL stopped with it');
  t.same(await processesMentioning(clusterDir), [], 'no PostgreSQL process left');

  first = await start();
  await stillThere('after a clean restart');

  first.child.kill('SIGKILL');
  await first.exited;
  const orphans = await processesMentioning(clusterDir);
  t.ok(orphans.length > 0, 'SIGKILL leaves the postmaster orphaned');

  first = await start();
  await stillThere('after SIGKILL');

  first.child.kill('SIGTERM');
  t.same(await first.exited, { code: 0, signal: null }, 'a clean exit at the end');
  t.same(await processesMentioning(clusterDir), [], 'no PostgreSQL process left for the data directory');
});

t.test('with DATABASE_URL, no embedded cluster is created', async (t) => {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-external-'));
  const port = await freePort();
  const server = run(['serve'], cleanEnv({ DATABASE_URL: database.url, CUSTODIA_DATA_DIR: dataDir, PORT: String(port) }));
  t.teardown(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exited;
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  await waitFor('the service to be ready', async () => {
    if (server.child.exitCode !== null) throw new Error(`serve exited early:\n${server.output()}`);
    return isReady(port);
  }, 60_000, 200);
  t.notOk(existsSync(join(dataDir, 'postgres')), 'no postgres directory in the data directory');
  t.notOk(existsSync(join(dataDir, 'keys', 'embedded-postgres.password')), 'no embedded password generated');
  server.child.kill('SIGTERM');
  t.same(await server.exited, { code: 0, signal: null }, 'a clean exit');
});

t.test('a bad setting stops the service with exit code 78, naming it', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-badconfig-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  for (const [name, value] of [['PORT', 'abc'], ['CUSTODIA_TOKEN_TTL', 'forever'], ['DATABASE_URL', 'mysql://x@y/z']] as const) {
    const server = run(['serve'], cleanEnv({ CUSTODIA_DATA_DIR: dataDir, [name]: value }));
    const { code } = await server.exited;
    t.equal(code, 78, `${name}=${value}: exit code 78`);
    t.match(server.output(), new RegExp(`configuration: ${name}`), `the message names ${name}`);
    t.notMatch(server.output(), /\n\s+at /, 'no stack trace');
  }
  t.notOk(existsSync(join(dataDir, 'postgres')), 'nothing was started');
});

t.test('a port already taken: exit code 1 naming it, and nothing left running', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-busy-'));
  await chmod(dataDir, 0o755);
  const blocker = createNetServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  t.teardown(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  });
  const server = run(['serve'], cleanEnv({ CUSTODIA_DATA_DIR: dataDir, PORT: String(port), CUSTODIA_EMBEDDED_PG_PORT: String(await freePort()) }));
  const { code } = await server.exited;
  t.equal(code, 1, 'exit code 1, not 0');
  t.match(server.output(), /EADDRINUSE/, 'the message says why');
  t.same(await processesMentioning(join(dataDir, 'postgres')), [], 'the embedded PostgreSQL was stopped');
  t.notOk(existsSync(join(dataDir, 'custodia.pid')), 'the data directory is unlocked');
});
