// The database a process uses: DATABASE_URL when set, else the data directory's embedded
// PostgreSQL. Migrations are applied before anything else touches it.
import type { Config } from '../config.ts';
import { startEmbeddedDatabase } from './embedded.ts';
import { migrate } from './migrate.ts';

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface OpenDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export async function openDatabase(config: Config, log: Logger, options: { reuseRunning?: boolean; migrate?: boolean } = {}): Promise<OpenDatabase> {
  const database = config.databaseUrl
    ? { url: config.databaseUrl, embedded: false, stop: async () => {} }
    : { ...(await startEmbeddedDatabase(config.dataDir, config.embeddedPostgresPort, log, options)), embedded: true };
  if (options.migrate !== false) {
    try {
      const applied = await migrate(database.url);
      if (applied.length) log.info({ applied }, 'database migrated');
    } catch (error) {
      await database.stop();
      throw error;
    }
  }
  return database;
}
