import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';

export interface CliContext {
  loadConfig(): Config;
  withDatabase<T>(config: Config, run: (db: Database, url: string) => Promise<T>): Promise<T>;
  readPassword(fromStdin: boolean): Promise<string>;
  out: NodeJS.WritableStream;
}

export async function userCommand(_args: string[], _ctx: CliContext): Promise<number> {
  return 2;
}
