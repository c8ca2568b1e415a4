// Evidence: multipart intake, reads, edits, retraction, revisions and content.
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { AppError, invalid } from '../../http/errors.ts';
import { expectedVersion, setEtag } from '../../http/etag.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import type { Keys } from '../../keys.ts';
import { RevisionSchema } from '../revisions/revisions.ts';
import type { BlobStore } from '../../storage/index.ts';
import {
  type EvidenceDeps,
  type ReceivedFile,
  authorizeEvidenceIntake,
  payloadTooLarge,
  receiveFile,
  registerEvidence,
} from './evidence.intake.ts';
import { parseMetadataField, validateEvidenceMetadata } from './evidence.metadata.ts';
import { attachmentDisposition } from './evidence.range.ts';
import { Evidence, EvidenceListQuery, EvidencePatch, RetractBody } from './evidence.schemas.ts';
import { evidenceRevisions, getEvidence, listCaseEvidence, openEvidenceContent, retractEvidence, updateEvidence } from './evidence.service.ts';
import { UUID } from '../../http/uuid.ts';

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const METADATA_MAX_BYTES = 64 * 1024;

export interface EvidenceRouteOptions {
  db: Database;
  config: Config;
  keys?: Keys;
  store: BlobStore;
}

/** Errors of the multipart parser (malformed body, limits) as the contract's problems. */
function multipartProblem(error: unknown, maxUploadBytes: number): unknown {
  if (error instanceof AppError) return error;
  const failure = error as { code?: string; statusCode?: number; syscall?: string };
  // The disk's errors (a full one included) are the error handler's, as anywhere else.
  if (failure.syscall) return error;
  if (failure.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return new AppError('unsupported_media_type', 'Send the evidence as multipart/form-data.');
  }
  if (failure.code === 'FST_REQ_FILE_TOO_LARGE') return payloadTooLarge(maxUploadBytes);
  if (failure.code === 'FST_PARTS_LIMIT' || failure.code === 'FST_FIELDS_LIMIT' || failure.code === 'FST_FILES_LIMIT') {
    return invalid('body', 'holds more parts than a `metadata` field and one `file`');
  }
  if (failure.code === 'FST_INVALID_JSON_FIELD_ERROR') return invalid('metadata', 'is not valid JSON');
  // Anything else the parser raised means the body is not a well-formed multipart form.
  return invalid('body', 'is not a well-formed multipart/form-data body');
}

export default async function evidenceRoutes(app: FastifyInstance, options: EvidenceRouteOptions) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const deps: EvidenceDeps = { db: options.db, config: options.config, store: options.store, log: app.log };
  // Only this plugin's routes parse multipart bodies.
  await app.register(multipart, { throwFileSizeLimit: false });

  api.post(
    '/cases/:caseId/evidence',
    {
      schema: {
        tags: ['evidence'],
        summary: 'Add evidence: multipart/form-data with a `metadata` field (the evidence fields as JSON) and one `file` part, in either order',
        params: CaseParams,
        consumes: ['multipart/form-data'],
        response: { 201: Evidence },
      },
      // Authorised before a single byte of the body is read (parameters that are not UUIDs are
      // refused by the schema afterwards, and never reach the handler).
      onRequest: async (request: FastifyRequest) => {
        const { caseId } = request.params as { caseId?: string };
        if (request.actor.user && caseId && UUID.test(caseId)) {
          await authorizeEvidenceIntake(deps, request.actor as Caller, caseId.toLowerCase());
        }
      },
    },
    async (request, reply) => {
      const caller = request.actor as Caller;
      const caseId = request.params.caseId.toLowerCase();
      let received: ReceivedFile | null = null;
      let metadata: unknown;
      let handedOver = false;
      try {
        try {
          const parts = request.parts({
            limits: { files: 2, fields: 2, parts: 4, fieldSize: METADATA_MAX_BYTES, fileSize: deps.config.maxUploadBytes + 1 },
          });
          for await (const part of parts) {
            if (part.type === 'file') {
              if (part.fieldname !== 'file') throw invalid(`body.${part.fieldname.slice(0, 50)}`, 'is not a known part (send `metadata` and `file`)');
              if (received) throw invalid('file', 'send exactly one file');
              received = await receiveFile(deps, part.file, part.filename);
            } else {
              if (part.fieldname !== 'metadata') throw invalid(`body.${part.fieldname.slice(0, 50)}`, 'is not a known field (send `metadata` and `file`)');
              if (metadata !== undefined) throw invalid('metadata', 'send it once');
              if (part.valueTruncated) throw invalid('metadata', `is larger than ${METADATA_MAX_BYTES} bytes`);
              metadata = parseMetadataField(part.value);
              // Checked as soon as it arrives: before the file, that spares the upload.
              await validateEvidenceMetadata(deps.db, caller.user.id, caseId, metadata);
            }
          }
        } catch (error) {
          throw multipartProblem(error, deps.config.maxUploadBytes);
        }
        if (!received) throw invalid('file', 'is required');
        if (metadata === undefined) throw invalid('metadata', 'is required');
        handedOver = true;
        const evidence = await registerEvidence(deps, caller, caseId, received, metadata);
        setEtag(reply, evidence.version);
        return reply.code(201).send(evidence);
      } catch (error) {
        if (received && !handedOver) await deps.store.abort(received.temp).catch(() => {});
        // The rest of a refused body is not worth reading.
        reply.header('connection', 'close');
        throw error;
      }
    },
  );

  api.get(
    '/cases/:caseId/evidence',
    { schema: { tags: ['evidence'], params: CaseParams, querystring: EvidenceListQuery, response: { 200: pageSchema(Evidence) } } },
    async (request) => listCaseEvidence(deps, request.actor as Caller, request.params.caseId.toLowerCase(), request.query),
  );

  api.get(
    '/evidence/:id',
    { schema: { tags: ['evidence'], params: IdParams, response: { 200: Evidence } } },
    async (request, reply) => {
      const evidence = await getEvidence(deps, request.actor as Caller, request.params.id.toLowerCase());
      setEtag(reply, evidence.version);
      return evidence;
    },
  );

  api.patch(
    '/evidence/:id',
    { schema: { tags: ['evidence'], params: IdParams, body: EvidencePatch, response: { 200: Evidence } } },
    async (request, reply) => {
      const version = expectedVersion(request);
      const evidence = await updateEvidence(deps, request.actor as Caller, request.params.id.toLowerCase(), version, request.body);
      setEtag(reply, evidence.version);
      return evidence;
    },
  );

  api.post(
    '/evidence/:id/retract',
    { schema: { tags: ['evidence'], params: IdParams, body: RetractBody, response: { 200: Evidence } } },
    async (request, reply) => {
      const version = expectedVersion(request);
      const evidence = await retractEvidence(deps, request.actor as Caller, request.params.id.toLowerCase(), version, request.body.reason);
      setEtag(reply, evidence.version);
      return evidence;
    },
  );

  api.get(
    '/evidence/:id/revisions',
    {
      schema: {
        tags: ['evidence'],
        params: IdParams,
        querystring: PageQuery,
        response: { 200: pageSchema(RevisionSchema) },
      },
    },
    async (request) => evidenceRevisions(deps, request.actor as Caller, request.params.id.toLowerCase(), request.query.limit ?? 50, request.query.cursor),
  );

  api.get(
    '/evidence/:id/content',
    {
      // A HEAD would record an access without serving the bytes.
      exposeHeadRoute: false,
      schema: {
        tags: ['evidence'],
        summary: 'The bytes of the item (Range supported); each served request is an `accessed` custody entry',
        params: IdParams,
        response: { 200: Type.String({ format: 'binary' }), 206: Type.String({ format: 'binary' }) },
      },
    },
    async (request, reply) => {
      const range = typeof request.headers.range === 'string' ? request.headers.range : undefined;
      return sendContent(deps, request.actor as Caller, request.params.id.toLowerCase(), range, reply);
    },
  );
}

async function sendContent(deps: EvidenceDeps, caller: Caller, id: string, range: string | undefined, reply: FastifyReply) {
  const content = await openEvidenceContent(deps, caller, id, range);
  const { evidence, sizeBytes } = content;
  reply.headers({
    etag: `"${evidence.sha256}"`,
    'repr-digest': `sha-256=:${Buffer.from(evidence.sha256, 'hex').toString('base64')}:`,
    'content-type': evidence.mediaType,
    'content-disposition': attachmentDisposition(evidence.originalFilename || `evidence-${evidence.id}`),
    'accept-ranges': 'bytes',
  });
  if (content.range) {
    reply.code(206);
    reply.header('content-range', `bytes ${content.range.start}-${content.range.end}/${sizeBytes}`);
    reply.header('content-length', String(content.range.end - content.range.start + 1));
  } else {
    reply.header('content-length', String(sizeBytes));
  }
  return reply.send(content.stream);
}
