import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import { CASE_ROLES } from './case-permissions.ts';
import { CaseParams } from './cases.routes.ts';
import { createMembersService } from './members.service.ts';

const CaseRoleSchema = Type.Enum(['lead', 'investigator', 'reviewer', 'counsel', 'observer']);
// The schema names every role of the permissions table.
const ROLES_MATCH: (typeof CASE_ROLES)[number] extends Static<typeof CaseRoleSchema> ? true : never = true;
void ROLES_MATCH;

export const MembershipSchema = Type.Object({
  caseId: Type.String({ format: 'uuid' }),
  userId: Type.String({ format: 'uuid' }),
  role: CaseRoleSchema,
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  user: Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.String(), displayName: Type.String() }),
});

const MemberParams = Type.Object(
  { caseId: Type.String({ format: 'uuid' }), userId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
);

const PutMember = Type.Object(
  {
    role: CaseRoleSchema,
    expiresAt: Type.Optional(Type.Union([Type.String({ format: 'date-time', maxLength: 40 }), Type.Null()])),
  },
  { additionalProperties: false },
);

const tags = ['cases'];

export default async function memberRoutes(instance: FastifyInstance, { db }: { db: Database; config?: Config }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const members = createMembersService(db);

  app.put(
    '/cases/:caseId/members/:userId',
    {
      schema: {
        tags,
        summary: 'Add a member or change their role (admin or lead).',
        description:
          'Answers 200 with the membership, whether it was created or changed. `expiresAt` (optional, in the future) time-boxes it: ' +
          'an expired membership grants nothing. An unknown user answers 404 (`not_found`). Demoting or time-boxing the last live lead is 409.',
        params: MemberParams,
        body: PutMember,
        response: { 200: MembershipSchema },
      },
    },
    async (request) => members.put(request.actor as Caller, request.params.caseId, request.params.userId, request.body),
  );

  app.delete(
    '/cases/:caseId/members/:userId',
    {
      schema: {
        tags,
        summary: 'Remove a member (admin or lead). Removing the last live lead is 409.',
        params: MemberParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await members.remove(request.actor as Caller, request.params.caseId, request.params.userId);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/cases/:caseId/members',
    {
      schema: {
        tags,
        summary: 'The members of a case (admin or lead), ordered by user id; expired memberships included.',
        params: CaseParams,
        querystring: PageQuery,
        response: { 200: pageSchema(MembershipSchema) },
      },
    },
    async (request) => members.list(request.actor as Caller, request.params.caseId, request.query.limit ?? 50, request.query.cursor),
  );
}
