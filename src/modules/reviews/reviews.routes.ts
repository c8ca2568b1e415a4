// Four-eyes reviews of evidence.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import type { Keys } from '../../keys.ts';
import type { BlobStore } from '../../storage/index.ts';
import type { EvidenceDeps } from '../evidence/evidence.intake.ts';
import { Review, ReviewBody } from './reviews.schemas.ts';
import { createReview, listEvidenceReviews } from './reviews.service.ts';

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export default async function reviewRoutes(app: FastifyInstance, options: { db: Database; config: Config; keys?: Keys; store: BlobStore }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const deps: EvidenceDeps = { db: options.db, config: options.config, store: options.store, log: app.log };

  api.post(
    '/evidence/:id/reviews',
    { schema: { tags: ['reviews'], params: IdParams, body: ReviewBody, response: { 201: Review } } },
    async (request, reply) => reply.code(201).send(await createReview(deps, request.actor as Caller, request.params.id.toLowerCase(), request.body)),
  );

  api.get(
    '/evidence/:id/reviews',
    {
      schema: {
        tags: ['reviews'],
        params: IdParams,
        querystring: PageQuery,
        response: { 200: pageSchema(Review) },
      },
    },
    async (request) => listEvidenceReviews(deps, request.actor as Caller, request.params.id.toLowerCase(), request.query.limit ?? 50, request.query.cursor),
  );
}
