import { randomBytes } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { generateMasterKey, masterKeyFromBase64, masterKeyToBase64 } from './envelope.ts';
import type { MasterKey } from './envelope.ts';
import { generateSigningKey, signingKeyFromPem, signingKeyToPem } from './signing-key.ts';
import type { SigningKey } from './signing-key.ts';

export type KeyFileFailure = 'insecure-permissions' | 'not-a-file' | 'invalid-content';

/** A key file that must not be used. The message names the file, never its content. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  readonly reason: KeyFileFailure;
  readonly path: string;
  constructor(reason: KeyFileFailure, path: string, message: string) {
    super(message);
    this.reason = reason;
    this.path = path;
  }
}

async function readKeyFile(path: string): Promise<string> {
  // Check and read through the same handle, so the file checked is the file read.
  const handle = await open(path, 'r');
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new KeyFileError('not-a-file', path, `key file ${path} is not a regular file`);
    const mode = stats.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new KeyFileError(
        'insecure-permissions',
        path,
        `key file ${path} is accessible to group or others (mode ${mode.toString(8).padStart(4, '0')}); ` +
          `refusing to use it. Restrict it to its owner with: chmod 600 ${path}`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` holding `content` (mode 0600) unless it already exists; returns whether it did.
 *
 * The content is written and synced to a private temporary file first, then hard-linked into
 * place: link() fails with EEXIST if another process got there first, and a reader never sees a
 * half-written key (which a plain `wx` open of `path` itself would allow).
 */
async function createKeyFile(path: string, content: string): Promise<boolean> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

async function loadKeyFile<K>(path: string, parse: (content: string) => K): Promise<K> {
  const content = await readKeyFile(path);
  try {
    return parse(content);
  } catch (error) {
    throw new KeyFileError('invalid-content', path, `key file ${path}: ${(error as Error).message}`);
  }
}

async function loadOrCreate<K>(
  path: string,
  generate: () => { key: K; content: string },
  parse: (content: string) => K,
): Promise<{ key: K; created: boolean }> {
  try {
    return { key: await loadKeyFile(path, parse), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const fresh = generate();
  if (await createKeyFile(path, fresh.content)) return { key: fresh.key, created: true };
  // Another process created it between our read and our link: use theirs.
  return { key: await loadKeyFile(path, parse), created: false };
}

/** Loads the base64 master key at `path`, or creates one there (mode 0600) if none exists. */
export function loadOrCreateMasterKeyFile(path: string): Promise<{ key: MasterKey; created: boolean }> {
  return loadOrCreate(
    path,
    () => {
      const key = generateMasterKey();
      return { key, content: `${masterKeyToBase64(key)}\n` };
    },
    (content) => masterKeyFromBase64(content),
  );
}

/** Loads the PKCS#8 PEM Ed25519 key at `path`, or creates one there (mode 0600) if none exists. */
export function loadOrCreateSigningKeyFile(path: string, name: string): Promise<{ key: SigningKey; created: boolean }> {
  return loadOrCreate(
    path,
    () => {
      const key = generateSigningKey(name);
      return { key, content: signingKeyToPem(key) };
    },
    (content) => signingKeyFromPem(content, name),
  );
}
