// `npm test`: runs the suite against DATABASE_URL's server, or, when it is unset, against an
// embedded PostgreSQL started for the run in a temporary directory (a fresh machine has none).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startThrowawayPostgres } from './throwaway-postgres.ts';

let stop = async () => {};
const env = { ...process.env };
if (!env.DATABASE_URL) {
  process.stderr.write('starting an embedded PostgreSQL for the tests\n');
  const postgres = await startThrowawayPostgres({ prefix: 'custodia-test-pg-', flags: ['-c', 'max_connections=300', '-c', 'fsync=off'] });
  env.DATABASE_URL = postgres.url;
  stop = async () => {
    await postgres.cluster.stop();
    await postgres.remove();
  };
}

const tap = spawn(process.execPath, [join(import.meta.dirname, '../node_modules/tap/dist/esm/run.mjs'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env,
});
const code: number = await new Promise((resolve) => tap.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0))));
await stop();
process.exit(code);
