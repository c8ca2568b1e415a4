// Resumable uploads (tus 1.0): creation under a case, then HEAD/PATCH/DELETE on the upload, and
// `complete`, which turns the finished bytes into evidence. Our code answers authentication,
// authorisation, unknown or foreign uploads and size limits as problems; the protocol itself
// (offsets, headers) is answered by @tus/server.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { invalid } from '../../http/errors.ts';
import { setEtag } from '../../http/etag.ts';
import type { Keys } from '../../keys.ts';
import type { BlobStore } from '../../storage/index.ts';
import { authorizeEvidenceIntake, payloadTooLarge } from '../evidence/evidence.intake.ts';
import { Evidence, EvidenceMetadataInput } from '../evidence/evidence.schemas.ts';
import { type UploadDeps, assertOpen, completeUpload, forgetUpload, loadOwnUpload, recordUpload } from './uploads.service.ts';
import { type TusRequestContext, createTusBridge, uploadDirectory } from './uploads.tus.ts';

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const Empty = (description: string) => Type.Null({ description });
const TUS_HEADERS = 'Tus-Resumable: 1.0.0 on every request but OPTIONS';

export interface UploadRouteOptions {
  db: Database;
  config: Config;
  keys?: Keys;
  store: BlobStore;
}

export default async function uploadRoutes(app: FastifyInstance, options: UploadRouteOptions) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { config } = options;
  const tus = await createTusBridge({
    directory: uploadDirectory(config),
    path: `${app.prefix}/uploads`,
    maxBytes: config.maxUploadBytes,
    ttlSeconds: config.uploadTtlSeconds,
    directIo: config.directIo,
    log: app.log,
  });
  const deps: UploadDeps = {
    db: options.db,
    config,
    store: options.store,
    log: app.log,
    tus,
    completing: new Set(),
  };

  // tus bodies are read by tus itself, as a stream: Fastify must leave them alone.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));

  /** Hands the raw request to tus; from here on tus writes the response. */
  async function handOver(request: FastifyRequest, reply: FastifyReply, context: TusRequestContext): Promise<void> {
    const headers = reply.getHeaders();
    reply.hijack();
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) reply.raw.setHeader(name, value as string);
    try {
      await tus.handle(request.raw, reply.raw, context);
    } catch (error) {
      request.log.error({ err: { message: (error as Error).message } }, 'tus could not answer');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-length': '0', connection: 'close' }).end();
      else reply.raw.destroy();
    }
  }

  async function ownOpenUpload(request: FastifyRequest) {
    const { id } = request.params as { id: string };
    const row = await loadOwnUpload(deps, request.actor as Caller, id.toLowerCase());
    assertOpen(deps, row);
    return row;
  }

  api.post(
    '/cases/:caseId/uploads',
    {
      schema: {
        tags: ['uploads'],
        summary: `Start a resumable upload (tus creation): Upload-Length required, Upload-Metadata "filename" optional; ${TUS_HEADERS}`,
        params: CaseParams,
        response: { 201: Empty('Created: `Location` names the upload (`/api/v1/uploads/{id}`)') },
      },
    },
    async (request, reply) => {
      const caller = request.actor as Caller;
      const caseId = request.params.caseId.toLowerCase();
      await authorizeEvidenceIntake(deps, caller, caseId);
      const length = request.headers['upload-length'];
      if (request.headers['upload-defer-length'] !== undefined || length === undefined) {
        throw invalid('headers.upload-length', 'is required (a deferred length is not supported)');
      }
      if (typeof length !== 'string' || !/^\d{1,16}$/.test(length)) throw invalid('headers.upload-length', 'must be a number of bytes');
      if (Number(length) > config.maxUploadBytes) throw payloadTooLarge(config.maxUploadBytes);
      await handOver(request, reply, {
        uploadId: randomUUID(),
        onCreate: (upload) => recordUpload(deps, caller, caseId, upload),
      });
    },
  );

  api.head(
    '/uploads/:id',
    {
      schema: {
        tags: ['uploads'],
        summary: `Where an upload stands: Upload-Offset (bytes received) and Upload-Length; ${TUS_HEADERS}`,
        params: IdParams,
        response: { 200: Empty('Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires headers') },
      },
    },
    async (request, reply) => {
      const row = await ownOpenUpload(request);
      await handOver(request, reply, { uploadId: row.id });
    },
  );

  api.patch(
    '/uploads/:id',
    {
      schema: {
        tags: ['uploads'],
        summary: `Append bytes (Content-Type application/offset+octet-stream) at Upload-Offset, which must equal the bytes received so far (else 409); ${TUS_HEADERS}`,
        params: IdParams,
        consumes: ['application/offset+octet-stream'],
        response: { 204: Empty('Upload-Offset: the bytes received now') },
      },
    },
    async (request, reply) => {
      const row = await ownOpenUpload(request);
      await handOver(request, reply, { uploadId: row.id });
    },
  );

  api.delete(
    '/uploads/:id',
    {
      schema: {
        tags: ['uploads'],
        summary: `Abandon an upload (tus termination): its bytes are removed; ${TUS_HEADERS}`,
        params: IdParams,
        response: { 204: Empty('Terminated') },
      },
    },
    async (request, reply) => {
      const row = await ownOpenUpload(request);
      // The row goes first: from now on the upload is unknown, and files tus could not remove
      // are swept by the expiry job.
      await forgetUpload(deps, row.id);
      await handOver(request, reply, { uploadId: row.id });
    },
  );

  const discovery = {
    config: { access: 'public' as const },
    schema: {
      tags: ['uploads'],
      summary: 'tus discovery: Tus-Version, Tus-Extension, Tus-Max-Size',
      response: { 204: Empty('tus capabilities in the headers') },
    },
  };
  api.options('/uploads', discovery, async (request, reply) => handOver(request, reply, { uploadId: '' }));
  api.options('/uploads/:id', { ...discovery, schema: { ...discovery.schema, params: IdParams } }, async (request, reply) =>
    handOver(request, reply, { uploadId: '' }),
  );
  api.options('/cases/:caseId/uploads', { ...discovery, schema: { ...discovery.schema, params: CaseParams } }, async (request, reply) =>
    handOver(request, reply, { uploadId: '' }),
  );

  api.post(
    '/uploads/:id/complete',
    {
      schema: {
        tags: ['uploads'],
        summary: 'Turn a finished upload into evidence: the evidence fields as JSON (as the multipart `metadata`)',
        params: IdParams,
        body: EvidenceMetadataInput,
        response: { 201: Evidence },
      },
    },
    async (request, reply) => {
      const evidence = await completeUpload(deps, request.actor as Caller, request.params.id.toLowerCase(), request.body);
      app.metrics?.uploads.inc({ kind: 'tus', outcome: 'stored' });
      app.metrics?.uploadedBytes.inc(evidence.sizeBytes);
      setEtag(reply, evidence.version);
      return reply.code(201).send(evidence);
    },
  );
}
