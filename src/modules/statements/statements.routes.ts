// Statements: investigator+ write; lead, investigator, reviewer and counsel read; observers never see them.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Keys } from '../../keys.ts';
import type { Caller } from '../../http/caller.ts';
import { expectedVersion, setEtag } from '../../http/etag.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import { RevisionSchema } from '../revisions/revisions.ts';
import { CreateStatement, PatchStatement, ReasonBody, Statement } from './statements.schemas.ts';
import { createStatementsService } from './statements.service.ts';

const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const tags = ['statements'];

export default async function statementRoutes(plugin: FastifyInstance, { db }: { db: Database; config: Config; keys: Keys }) {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const statements = createStatementsService(db);

  app.post('/cases/:caseId/statements', {
    schema: {
      tags,
      summary: 'Record a statement (investigator+)',
      description: 'The witness and the incidents must belong to the case, the interviewer must be a member of it (the caller when omitted).',
      params: CaseParams,
      body: CreateStatement,
      response: { 201: Statement },
    },
  }, async (request, reply) => {
    const statement = await statements.create(request.actor as Caller, request.params.caseId, request.body);
    setEtag(reply, statement.version);
    return reply.code(201).send(statement);
  });

  app.get('/cases/:caseId/statements', {
    schema: { tags, summary: 'A case\'s statements, newest first (reviewer+)', params: CaseParams, querystring: PageQuery, response: { 200: pageSchema(Statement) } },
  }, async (request) => statements.list(request.actor as Caller, request.params.caseId, request.query.limit ?? 50, request.query.cursor));

  app.get('/statements/:id', { schema: { tags, params: IdParams, response: { 200: Statement } } }, async (request, reply) => {
    const statement = await statements.get(request.actor as Caller, request.params.id);
    setEtag(reply, statement.version);
    return statement;
  });

  app.patch('/statements/:id', {
    schema: { tags, summary: 'Edit a statement (If-Match)', params: IdParams, body: PatchStatement, response: { 200: Statement } },
  }, async (request, reply) => {
    const statement = await statements.update(request.actor as Caller, request.params.id, expectedVersion(request), request.body);
    setEtag(reply, statement.version);
    return statement;
  });

  app.post('/statements/:id/retract', {
    schema: { tags, summary: 'Retract a statement with a reason (If-Match)', params: IdParams, body: ReasonBody, response: { 200: Statement } },
  }, async (request, reply) => {
    const statement = await statements.retract(request.actor as Caller, request.params.id, expectedVersion(request), request.body.reason);
    setEtag(reply, statement.version);
    return statement;
  });

  app.get('/statements/:id/revisions', {
    schema: { tags, params: IdParams, querystring: PageQuery, response: { 200: pageSchema(RevisionSchema) } },
  }, async (request) => statements.revisions(request.actor as Caller, request.params.id, request.query.limit ?? 50, request.query.cursor));
}
