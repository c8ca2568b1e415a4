// `custodia keys rotate-signing`: a new Ed25519 checkpoint key in the signing key file. The old
// file is kept beside it as `<file>.retired-<keyId>`, and the old key stays published as retired
// so that every checkpoint it signed can still be checked.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { generateSigningKey, signingKeyFromPem, signingKeyToPem, type SigningKey } from '../../crypto/index.ts';
import type { CommandContext } from '../../cli/context.ts';
import { registerRotation } from './signing-keys.ts';

class CommandError extends Error {
  override name = 'CommandError';
}

async function readCurrentKey(path: string, name: string): Promise<SigningKey | null> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return signingKeyFromPem(pem, name);
}

/** Writes `content` to a private temporary file beside `path`, synced, and answers its name. */
async function writePrivateTemp(path: string, content: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

export async function rotateSigningCommand(args: string[], ctx: CommandContext): Promise<number> {
  if (args.length > 0) throw new CommandError(`keys rotate-signing takes no arguments (got ${args.join(' ')})`);
  const config = ctx.loadConfig();
  if (config.signingKey) {
    throw new CommandError(
      'CUSTODIA_SIGNING_KEY is set: the signing key is managed where that variable is set; rotate it there (generate a new Ed25519 key, set it, restart the service)',
    );
  }
  const path = config.signingKeyFile;
  const previous = await readCurrentKey(path, config.signingKeyName);
  const next = generateSigningKey(config.signingKeyName);

  const temp = await writePrivateTemp(path, signingKeyToPem(next));
  try {
    // Keep the old key under a second name first, then swap the new one in atomically.
    if (previous) await link(path, `${path}.retired-${previous.keyId}`);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }

  await ctx.withDatabase(config, (db) => registerRotation(db, next, previous));
  ctx.out.write(`${next.keyId}\n`);
  process.stderr.write(
    `custodia: new signing key ${next.keyId} is current${previous ? `; ${previous.keyId} is retired (kept as ${path}.retired-${previous.keyId})` : ''}. Restart running services to sign with it.\n`,
  );
  return 0;
}
