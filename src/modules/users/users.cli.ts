// `custodia user create` and `custodia user reset-password`: the same service functions, and so
// the same rules, as the API. The password comes from stdin or a prompt, never an argument.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Actor } from '../../http/caller.ts';
import { AppError } from '../../http/errors.ts';
import type { SecretCommandContext } from '../../cli/context.ts';
import { createUser, resetPassword } from './users.service.ts';

const USAGE = `usage:
  custodia user create --email E --display-name N --role admin|member [--password-stdin]
  custodia user reset-password --email E [--password-stdin]
`;

function commandError(message: string): Error {
  return Object.assign(new Error(message), { name: 'CommandError' });
}

function usage(message: string): number {
  process.stderr.write(`custodia: ${message}\n\n${USAGE}`);
  return 2;
}

/** The service's problems, said for a terminal: "password: must be at least 12 characters". */
function explain(error: unknown): Error {
  if (!(error instanceof AppError)) return error as Error;
  const field = error.extra.errors?.[0];
  if (field) return commandError(`${field.path.replace(/^body\./, '')}: ${field.message}`);
  return commandError(error.detail);
}

function cliActor(): Actor {
  return { user: null, requestId: `cli-${randomUUID()}`, address: 'cli', userAgent: 'custodia-cli' };
}

export async function userCommand(args: string[], ctx: SecretCommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create' && sub !== 'reset-password') return usage(sub === undefined ? 'user needs a subcommand' : `unknown user subcommand "${sub}"`);
  let values: { email?: string; 'display-name'?: string; role?: string; 'password-stdin'?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        email: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'display-name': { type: 'string' },
        role: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (!values.email) return usage('--email is required');
  if (sub === 'reset-password' && (values['display-name'] !== undefined || values.role !== undefined)) {
    return usage('reset-password takes only --email and --password-stdin');
  }
  if (sub === 'create') {
    if (!values['display-name']) return usage('--display-name is required');
    if (values.role !== 'admin' && values.role !== 'member') return usage('--role must be admin or member');
  }

  const password = await ctx.readPassword(values['password-stdin'] === true);
  const config = ctx.loadConfig();
  try {
    return await ctx.withDatabase(config, async (db) => {
      if (sub === 'create') {
        const user = await createUser(
          db,
          cliActor(),
          { email: values.email!, displayName: values['display-name']!, password, role: values.role as 'admin' | 'member' },
          'cli',
        );
        ctx.out.write(`${user.id}\n`);
      } else {
        const user = await resetPassword(db, cliActor(), values.email!, password);
        ctx.out.write(`password reset for ${user.email} (${user.id}); every token of this user was revoked\n`);
      }
      return 0;
    });
  } catch (error) {
    throw explain(error);
  }
}
