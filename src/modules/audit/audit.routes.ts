import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { pageSchema } from '../../http/pagination.ts';
import { createAuditService } from './audit.service.ts';

export const AuditEntrySchema = Type.Object({
  id: Type.String({ description: 'A bigint, as a string.' }),
  at: Type.String({ format: 'date-time' }),
  actorId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  action: Type.String(),
  outcome: Type.Enum(['success', 'failure', 'denied']),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  caseId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
});

const AuditQuery = Type.Object(
  {
    actorId: Type.Optional(Type.String({ format: 'uuid' })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    outcome: Type.Optional(Type.Enum(['success', 'failure', 'denied'])),
    targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    from: Type.Optional(Type.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339; entries at or after.' })),
    to: Type.Optional(Type.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339; entries strictly before.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

const AllAuditQuery = Type.Object(
  { ...AuditQuery.properties, caseId: Type.Optional(Type.String({ format: 'uuid' })) },
  { additionalProperties: false },
);

const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const tags = ['audit'];

export default async function auditRoutes(instance: FastifyInstance, { db }: { db: Database }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const audit = createAuditService(db);

  app.get(
    '/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'The whole audit trail (admin), newest first.',
        querystring: AllAuditQuery,
        response: { 200: pageSchema(AuditEntrySchema) },
      },
    },
    async (request) => audit.all(request.query),
  );

  app.get(
    '/cases/:caseId/audit',
    {
      schema: {
        tags,
        summary: "One case's audit trail (lead), newest first.",
        params: CaseParams,
        querystring: AuditQuery,
        response: { 200: pageSchema(AuditEntrySchema) },
      },
    },
    async (request) => audit.ofCase(request.actor as Caller, request.params.caseId, request.query),
  );
}
