// Multipart bodies, evidence fields and blob-directory checks shared by the evidence tests.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext, TestUser } from '../helpers/app.ts';
import { vocabularyCodes } from '../../src/modules/vocabularies/vocabularies.ts';

export type Part =
  | { name: string; value: string; contentType?: string }
  | { name: string; filename: string; data: Buffer; contentType?: string };

export function multipart(parts: Part[]): { payload: Buffer; contentType: string } {
  const boundary = `----custodia${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if ('data' in part) {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.contentType ?? 'application/octet-stream'}\r\n\r\n`,
        ),
        part.data,
        Buffer.from('\r\n'),
      );
    } else {
      const type = part.contentType ? `Content-Type: ${part.contentType}\r\n` : '';
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n${type}\r\n${part.value}\r\n`));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function codes() {
  const [acquisition] = [...vocabularyCodes('acquisition-methods')];
  const [sourceKind] = [...vocabularyCodes('source-kinds')];
  return { acquisition: acquisition!, sourceKind: sourceKind! };
}

export async function metadata(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const { acquisition, sourceKind } = await codes();
  return {
    title: 'Video of the checkpoint',
    collectedAt: '2026-03-01T10:00:00.000Z',
    acquisition,
    source: { kind: sourceKind, name: 'Field team' },
    ...overrides,
  };
}

export async function upload(
  ctx: TestContext,
  user: TestUser | null,
  caseId: string,
  data: Buffer,
  options: { metadata?: Record<string, unknown>; filename?: string; fileFirst?: boolean; parts?: Part[] } = {},
) {
  const fields = JSON.stringify(options.metadata ?? (await metadata()));
  const file: Part = { name: 'file', filename: options.filename ?? 'clip.bin', data };
  const meta: Part = { name: 'metadata', value: fields };
  const body = multipart(options.parts ?? (options.fileFirst ? [file, meta] : [meta, file]));
  const response = await ctx.inject(user, {
    method: 'POST',
    url: `/api/v1/cases/${caseId}/evidence`,
    headers: { 'content-type': body.contentType },
    payload: body.payload,
  });
  let json: any = null;
  try {
    json = JSON.parse(response.body);
  } catch {
    json = null;
  }
  return { status: response.statusCode, body: json, headers: response.headers };
}

/** Every file under the blob store (committed and temporary). */
export async function blobFiles(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'blobs');
  try {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  } catch {
    return [];
  }
}

export async function evidenceCounts(ctx: TestContext) {
  const [evidence, blobs, entries, queued] = await Promise.all([
    ctx.db.evidence.count(),
    ctx.db.blob.count(),
    ctx.db.custodyEntry.count(),
    ctx.db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM custody_queue`,
  ]);
  // Queued custody events count too: they are entries waiting for their seq.
  return { evidence, blobs, custody: entries + (queued[0]?.n ?? 0) };
}

/** A multipart upload over a real socket: the metadata part and the file part's header are sent; write the file's bytes, then end(). */
export function startUpload(port: number, user: TestUser, caseId: string, fields: Record<string, unknown>) {
  const boundary = `----custodia${randomBytes(8).toString('hex')}`;
  const request = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: `/api/v1/cases/${caseId}/evidence`,
    headers: { authorization: `Bearer ${user.token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
  });
  const response = new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    request.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    request.on('error', reject);
  });
  request.write(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${JSON.stringify(fields)}\r\n`);
  request.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return { request, response, end: () => request.end(`\r\n--${boundary}--\r\n`) };
}

/** Writes `total` bytes of generated data, honouring back-pressure; answers their SHA-256. */
export async function writeGenerated(request: http.ClientRequest, total: number): Promise<string> {
  const hash = createHash('sha256');
  const block = randomBytes(1024 * 1024);
  for (let written = 0, i = 0; written < total; i++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, total - written)));
    chunk.writeUInt32LE(i, 0);
    hash.update(chunk);
    written += chunk.length;
    if (!request.write(chunk)) await new Promise((resolve) => request.once('drain', resolve));
  }
  return hash.digest('hex');
}
