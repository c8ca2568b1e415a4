import { access, constants, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Whether an error is a full disk (or a user's quota reached): ENOSPC, EDQUOT. */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Throws when the blob store's directory cannot be written. */
export async function checkStorage(dataDir: string): Promise<void> {
  const dir = join(dataDir, 'blobs');
  await mkdir(dir, { recursive: true });
  await access(dir, constants.W_OK);
}
