// `custodia worker`: starts the job workers on the configured database, keeps running, and stops
// gracefully (exit code 0) on SIGTERM.
import { createInterface } from 'node:readline';
import pg from 'pg';
import t from 'tap';
import { createTestContext } from '../helpers/app.ts';
import { spawnCustodia } from '../helpers/cli.ts';

t.test('custodia worker runs until SIGTERM, then stops cleanly', async (t) => {
  const ctx = await createTestContext(t);
  const child = spawnCustodia(
    ['worker'],
    { DATABASE_URL: ctx.database.url, CUSTODIA_DATA_DIR: ctx.dataDir, CUSTODIA_MASTER_KEY: ctx.config.masterKey ?? '', LOG_LEVEL: 'info', CUSTODIA_WORKERS: 'external' },
    ['ignore', 'pipe', 'pipe'],
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<boolean>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.includes('custodia worker is ready')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  t.ok(ready, `the worker is ready${ready ? '' : `: ${stderr.slice(0, 500)}`}`);
  const client = new pg.Client({ connectionString: ctx.database.url });
  await client.connect();
  const queues = await client.query('SELECT name FROM pgboss.queue ORDER BY name');
  await client.end();
  t.ok(queues.rows.some((row) => row.name === 'uploads.expire'), 'its queues exist');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit code 0 after SIGTERM');
});
