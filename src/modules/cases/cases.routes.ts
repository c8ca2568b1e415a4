import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { expectedVersion, setEtag } from '../../http/etag.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import { RevisionSchema } from '../revisions/revisions.ts';
import { createCasesService } from './cases.service.ts';

// A non-blank line of text: no control characters, not only spaces.
const Line = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*\\S[^\\u0000-\\u001f\\u007f]*$' });

export const CaseStatusSchema = Type.Enum(['open', 'closed', 'archived']);

export const CaseSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  reference: Type.String(),
  title: Type.String(),
  description: Type.String(),
  status: CaseStatusSchema,
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
});

const CreateCase = Type.Object(
  {
    reference: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\s\\u0000-\\u001f\\u007f](?:[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f])?$' }),
    title: Line(300),
    description: Type.Optional(Type.String({ maxLength: 20_000 })),
    leadUserId: Type.String({ format: 'uuid' }),
  },
  { additionalProperties: false },
);

const UpdateCase = Type.Object(
  {
    title: Type.Optional(Line(300)),
    description: Type.Optional(Type.String({ maxLength: 20_000 })),
    status: Type.Optional(CaseStatusSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);


export const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

const tags = ['cases'];

export default async function caseRoutes(instance: FastifyInstance, { db }: { db: Database; config?: Config }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const cases = createCasesService(db);

  app.post(
    '/cases',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Create a case and name its first lead (admin). The admin becomes nothing in the case unless added.',
        body: CreateCase,
        response: { 201: CaseSchema },
      },
    },
    async (request, reply) => {
      const created = await cases.create(request.actor as Caller, request.body);
      setEtag(reply, created.version);
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/cases',
    {
      schema: {
        tags,
        summary: 'Cases: every case for admins, the cases of live memberships for members; newest first.',
        querystring: PageQuery,
        response: { 200: pageSchema(CaseSchema) },
      },
    },
    async (request) => cases.list(request.actor as Caller, request.query.limit ?? 50, request.query.cursor),
  );

  app.get(
    '/cases/:caseId',
    {
      // The hottest read: the case comes with the session, in one statement.
      config: { preloadCase: true },
      schema: { tags, summary: 'A case (members, and admins).', params: CaseParams, response: { 200: CaseSchema } },
    },
    async (request, reply) => {
      const found = await cases.get(request.actor as Caller, request.params.caseId, request.preloadedCase);
      setEtag(reply, found.version);
      return found;
    },
  );

  app.patch(
    '/cases/:caseId',
    {
      schema: {
        tags,
        summary: 'Edit a case (lead). Requires If-Match.',
        params: CaseParams,
        body: UpdateCase,
        response: { 200: CaseSchema },
      },
    },
    async (request, reply) => {
      const updated = await cases.update(request.actor as Caller, request.params.caseId, request.body, () => expectedVersion(request));
      setEtag(reply, updated.version);
      return updated;
    },
  );

  app.get(
    '/cases/:caseId/revisions',
    {
      schema: {
        tags,
        summary: 'Every version of the case, oldest first (reviewer+).',
        params: CaseParams,
        querystring: PageQuery,
        response: { 200: pageSchema(RevisionSchema) },
      },
    },
    async (request) => cases.revisions(request.actor as Caller, request.params.caseId, request.query.limit ?? 50, request.query.cursor),
  );
}
