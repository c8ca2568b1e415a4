// Incidents: what happened, where and when; full-text and filtered search.
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
import { CreateIncident, Incident, IncidentSearch, PatchIncident, RetractBody } from './incidents.schemas.ts';
import { createIncidentsService } from './incidents.service.ts';

const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const tags = ['incidents'];

export default async function incidentRoutes(plugin: FastifyInstance, { db }: { db: Database; config: Config; keys: Keys }) {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const incidents = createIncidentsService(db);

  app.post('/cases/:caseId/incidents', {
    schema: { tags, summary: 'Record an incident (investigator+)', params: CaseParams, body: CreateIncident, response: { 201: Incident } },
  }, async (request, reply) => {
    const incident = await incidents.create(request.actor as Caller, request.params.caseId, request.body);
    setEtag(reply, incident.version);
    return reply.code(201).send(incident);
  });

  app.get('/cases/:caseId/incidents', {
    schema: {
      tags,
      summary: 'Search a case\'s incidents (observer+)',
      description:
        'Full-text over title, summary and location names (accent- and case-insensitive, French and English stems), ranked when q is given, newest first otherwise. from/to select incidents whose period overlaps the range; retracted incidents only with includeRetracted=true.',
      params: CaseParams,
      querystring: IncidentSearch,
      response: { 200: pageSchema(Incident) },
    },
  }, async (request) => incidents.search(request.actor as Caller, request.params.caseId, request.query));

  app.get('/incidents/:id', { schema: { tags, params: IdParams, response: { 200: Incident } } }, async (request, reply) => {
    const incident = await incidents.get(request.actor as Caller, request.params.id);
    setEtag(reply, incident.version);
    return incident;
  });

  app.patch('/incidents/:id', {
    schema: { tags, summary: 'Edit an incident (If-Match)', params: IdParams, body: PatchIncident, response: { 200: Incident } },
  }, async (request, reply) => {
    const incident = await incidents.update(request.actor as Caller, request.params.id, expectedVersion(request), request.body);
    setEtag(reply, incident.version);
    return incident;
  });

  app.post('/incidents/:id/retract', {
    schema: { tags, summary: 'Retract an incident with a reason (If-Match)', params: IdParams, body: RetractBody, response: { 200: Incident } },
  }, async (request, reply) => {
    const incident = await incidents.retract(request.actor as Caller, request.params.id, expectedVersion(request), request.body.reason);
    setEtag(reply, incident.version);
    return incident;
  });

  app.get('/incidents/:id/revisions', {
    schema: { tags, summary: 'Every version of an incident (reviewer+)', params: IdParams, querystring: PageQuery, response: { 200: pageSchema(RevisionSchema) } },
  }, async (request) => incidents.revisions(request.actor as Caller, request.params.id, request.query.limit ?? 50, request.query.cursor));
}
