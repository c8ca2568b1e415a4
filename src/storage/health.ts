import { access, constants, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Throws when the blob store's directory cannot be written. */
export async function checkStorage(dataDir: string): Promise<void> {
  const dir = join(dataDir, 'blobs');
  await mkdir(dir, { recursive: true });
  await access(dir, constants.W_OK);
}
