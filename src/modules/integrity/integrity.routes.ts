// The record of the integrity checks, for admins: GET /integrity-checks (the latest first) and
// GET /integrity-checks/{id} (with the problems found). Not in API.md: an installation without
// Prometheus (a laptop in the field) has no other way to see that its archive was checked.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../database/client.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import { getCheck, listChecks } from './integrity.history.ts';

const Uuid = Type.String({ format: 'uuid' });

const CheckSummary = Type.Object({
  id: Uuid,
  trigger: Type.Enum(['schedule', 'command'], { description: 'The integrity.check job, or `custodia check`.' }),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.String({ format: 'date-time' }),
  blobsChecked: Type.Integer(),
  bytesRead: Type.Integer(),
  casesChecked: Type.Integer(),
  problemCount: Type.Integer({ description: 'All problems found; `problems` keeps the first 1,000.' }),
});

const BlobProblem = Type.Object({
  kind: Type.Literal('blob'),
  sha256: Type.String(),
  problem: Type.Enum(['missing', 'size_differs', 'bytes_differ', 'unreadable']),
  found: Type.Optional(Type.Object({ sizeBytes: Type.Integer(), sha256: Type.Optional(Type.String()) })),
  error: Type.Optional(Type.String()),
  evidence: Type.Array(Type.Object({ id: Uuid, caseId: Uuid }), { description: 'The evidence items recorded with these bytes.' }),
});

const CustodyLogProblem = Type.Object({
  kind: Type.Literal('custody_log'),
  caseId: Uuid,
  size: Type.Integer(),
  firstBadSeq: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
});

const CheckRecord = Type.Object({ ...CheckSummary.properties, problems: Type.Array(Type.Union([BlobProblem, CustodyLogProblem])) });

const tags = ['integrity'];

export default async function integrityRoutes(instance: FastifyInstance, { db }: { db: Database }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/integrity-checks',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'The integrity checks that ran (admin), the latest first, without their problems.', querystring: PageQuery, response: { 200: pageSchema(CheckSummary) } },
    },
    async (request) => listChecks(db, request.query),
  );

  app.get(
    '/integrity-checks/:id',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'One integrity check (admin), with the problems it found, by ids and hashes.', params: Type.Object({ id: Uuid }, { additionalProperties: false }), response: { 200: CheckRecord } },
    },
    async (request) => getCheck(db, request.params.id.toLowerCase()),
  );
}
