// tus requests through app.inject, and a look at the upload directory.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext, TestUser } from '../helpers/app.ts';

export const TUS = { 'tus-resumable': '1.0.0' };

export async function createUpload(ctx: TestContext, user: TestUser | null, caseId: string, length: number | string, filename?: string, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...TUS, 'upload-length': String(length), ...extra };
  if (filename !== undefined) headers['upload-metadata'] = `filename ${Buffer.from(filename).toString('base64')}`;
  const response = await ctx.inject(user, { method: 'POST', url: `/api/v1/cases/${caseId}/uploads`, headers });
  const location = String(response.headers.location ?? '');
  return { status: response.statusCode, location, id: location.split('/').pop() ?? '', response };
}

export function headUpload(ctx: TestContext, user: TestUser | null, id: string) {
  return ctx.inject(user, { method: 'HEAD', url: `/api/v1/uploads/${id}`, headers: { ...TUS } });
}

export function patchUpload(ctx: TestContext, user: TestUser | null, id: string, offset: number, chunk: Buffer) {
  return ctx.inject(user, {
    method: 'PATCH',
    url: `/api/v1/uploads/${id}`,
    headers: { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) },
    payload: chunk,
  });
}

export function deleteUpload(ctx: TestContext, user: TestUser | null, id: string) {
  return ctx.inject(user, { method: 'DELETE', url: `/api/v1/uploads/${id}`, headers: { ...TUS } });
}

export function completeUpload(ctx: TestContext, user: TestUser | null, id: string, fields: unknown) {
  return ctx.json(user, 'POST', `/api/v1/uploads/${id}/complete`, fields);
}

/** File names in the upload directory. */
export async function uploadFiles(dataDir: string): Promise<string[]> {
  try {
    return (await readdir(join(dataDir, 'uploads'))).sort();
  } catch {
    return [];
  }
}
