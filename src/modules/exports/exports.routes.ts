// Case-file exports: ask for one (a job builds it), follow it, download the bundle.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import type { Keys } from '../../keys.ts';
import type { BlobStore } from '../../storage/index.ts';
import { attachmentDisposition } from '../evidence/evidence.range.ts';
import { createExport, getExport, openBundle, type ExportsDeps } from './exports.service.ts';

const tags = ['exports'];
const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const Ids = Type.Array(Type.String({ format: 'uuid' }), { maxItems: 10_000 });
const RedactionSchema = Type.Union([Type.Literal('protect_witnesses'), Type.Literal('full')]);
const StatusSchema = Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]);

const CreateExport = Type.Object(
  {
    scope: Type.Optional(
      Type.Object(
        { incidentIds: Type.Optional(Ids), evidenceIds: Type.Optional(Ids) },
        { additionalProperties: false, description: 'No scope, or an empty one: the whole case' },
      ),
    ),
    redaction: Type.Optional(Type.Union([RedactionSchema], { description: 'protect_witnesses (default): pseudonyms only; full (lead only): also the identities of witnesses who consented to disclosure' })),
  },
  { additionalProperties: false },
);

const ExportStarted = Type.Object({ id: Type.String({ format: 'uuid' }), status: StatusSchema }, { additionalProperties: false });

const ExportSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    caseId: Type.String({ format: 'uuid' }),
    status: StatusSchema,
    progress: Type.Number({ minimum: 0, maximum: 1 }),
    bytes: Type.Integer({ minimum: 0 }),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'of the whole zip, once done' })),
    error: Type.Optional(Type.String()),
    redaction: RedactionSchema,
    createdAt: Type.String({ format: 'date-time' }),
    createdBy: Type.String({ format: 'uuid' }),
  },
  { additionalProperties: false },
);

export default async function exportRoutes(plugin: FastifyInstance, options: { db: Database; config: Config; keys: Keys; store: BlobStore }) {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const deps: ExportsDeps = { db: options.db, config: options.config, store: options.store, log: app.log };

  app.post(
    '/cases/:caseId/exports',
    {
      schema: {
        tags,
        summary: 'Start an export job (lead: both redactions; counsel: protect_witnesses only)',
        params: CaseParams,
        body: CreateExport,
        response: { 202: ExportStarted },
      },
    },
    async (request, reply) => {
      const started = await createExport(deps, request.actor as Caller, request.params.caseId.toLowerCase(), request.body);
      return reply.code(202).send(started);
    },
  );

  app.get(
    '/exports/:id',
    { schema: { tags, summary: 'An export and its progress (its creator, the case\'s leads)', params: IdParams, response: { 200: ExportSchema } } },
    async (request) => getExport(deps, request.actor as Caller, request.params.id.toLowerCase()),
  );

  app.get(
    '/exports/:id/download',
    {
      exposeHeadRoute: false,
      schema: {
        tags,
        summary: 'The bundle (application/zip, Range supported); each download is audited',
        params: IdParams,
        response: { 200: Type.String({ format: 'binary' }), 206: Type.String({ format: 'binary' }) },
      },
    },
    async (request, reply) => {
      const range = typeof request.headers.range === 'string' ? request.headers.range : undefined;
      const bundle = await openBundle(deps, request.actor as Caller, request.params.id.toLowerCase(), range);
      reply.headers({
        'content-type': 'application/zip',
        'content-disposition': attachmentDisposition(`custodia-export-${bundle.row.id}.zip`),
        'accept-ranges': 'bytes',
        etag: `"${bundle.row.sha256}"`,
        'repr-digest': `sha-256=:${Buffer.from(bundle.row.sha256!, 'hex').toString('base64')}:`,
      });
      if (bundle.range) {
        reply.code(206);
        reply.header('content-range', `bytes ${bundle.range.start}-${bundle.range.end}/${bundle.sizeBytes}`);
        reply.header('content-length', String(bundle.range.end - bundle.range.start + 1));
      } else {
        reply.header('content-length', String(bundle.sizeBytes));
      }
      return (reply as FastifyReply).send(bundle.stream);
    },
  );
}
