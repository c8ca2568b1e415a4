// What `src/cli.ts` hands each command: its configuration, a database for the command's use, and
// where to print (tests pass their own).
import type { Config } from '../config.ts';
import type { Database } from '../database/client.ts';

export interface CommandContext {
  loadConfig(): Config;
  withDatabase<T>(config: Config, run: (db: Database, url: string) => Promise<T>): Promise<T>;
  out: NodeJS.WritableStream;
}

/** For a command that reads a secret: from stdin, or at a prompt, never from its arguments. */
export interface SecretCommandContext extends CommandContext {
  readPassword(fromStdin: boolean): Promise<string>;
}
