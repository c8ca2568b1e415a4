// Witnesses: pseudonymous records (investigator+ write, reviewer+ read) and their identities
// (the lead and the registering investigator only).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { expectedVersion, setEtag } from '../../http/etag.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import type { Keys } from '../../keys.ts';
import { RevisionSchema } from '../revisions/revisions.ts';
import { createIdentityService } from './identity.service.ts';
import { CreateWitness, Identity, PatchWitness, PutIdentity, ReasonBody, Witness } from './witnesses.schemas.ts';
import { createWitnessesService } from './witnesses.service.ts';

const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const tags = ['witnesses'];
const identityTags = ['witness identities'];

export default async function witnessRoutes(plugin: FastifyInstance, { db, keys }: { db: Database; config: Config; keys: Keys }) {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const witnesses = createWitnessesService(db);
  const identities = createIdentityService(db, keys);

  app.post('/cases/:caseId/witnesses', {
    schema: { tags, summary: 'Register a witness (investigator+); the code is assigned', params: CaseParams, body: CreateWitness, response: { 201: Witness } },
  }, async (request, reply) => {
    const witness = await witnesses.create(request.actor as Caller, request.params.caseId, request.body ?? {});
    setEtag(reply, witness.version);
    return reply.code(201).send(witness);
  });

  app.get('/cases/:caseId/witnesses', {
    schema: { tags, summary: 'A case\'s witnesses, newest first (reviewer+)', params: CaseParams, querystring: PageQuery, response: { 200: pageSchema(Witness) } },
  }, async (request) => witnesses.list(request.actor as Caller, request.params.caseId, request.query.limit ?? 50, request.query.cursor));

  app.get('/witnesses/:id', { schema: { tags, params: IdParams, response: { 200: Witness } } }, async (request, reply) => {
    const witness = await witnesses.get(request.actor as Caller, request.params.id);
    setEtag(reply, witness.version);
    return witness;
  });

  app.patch('/witnesses/:id', {
    schema: { tags, summary: 'Edit risk level or consent (If-Match)', params: IdParams, body: PatchWitness, response: { 200: Witness } },
  }, async (request, reply) => {
    const witness = await witnesses.update(request.actor as Caller, request.params.id, expectedVersion(request), request.body);
    setEtag(reply, witness.version);
    return witness;
  });

  app.post('/witnesses/:id/retract', {
    schema: { tags, summary: 'Retract a witness record with a reason (If-Match)', params: IdParams, body: ReasonBody, response: { 200: Witness } },
  }, async (request, reply) => {
    const witness = await witnesses.retract(request.actor as Caller, request.params.id, expectedVersion(request), request.body.reason);
    setEtag(reply, witness.version);
    return witness;
  });

  app.get('/witnesses/:id/revisions', {
    schema: { tags, params: IdParams, querystring: PageQuery, response: { 200: pageSchema(RevisionSchema) } },
  }, async (request) => witnesses.revisions(request.actor as Caller, request.params.id, request.query.limit ?? 50, request.query.cursor));

  app.get('/witnesses/:id/identity', {
    schema: {
      tags: identityTags,
      summary: 'Read the identity (lead, registering investigator; audited)',
      description: '404 to anyone else, whether or not an identity exists; 410 once erased; 500 if the stored identity does not authenticate.',
      params: IdParams,
      response: { 200: Identity },
    },
  }, async (request) => identities.read(request.actor as Caller, request.params.id, request.log));

  app.put('/witnesses/:id/identity', {
    schema: {
      tags: identityTags,
      summary: 'Record or replace the identity (lead, registering investigator; audited)',
      description: 'Encrypted at rest under a key of its own. An erased identity cannot be recorded again (410).',
      params: IdParams,
      body: PutIdentity,
      response: { 200: Identity },
    },
  }, async (request) => identities.write(request.actor as Caller, request.params.id, request.body));

  app.delete('/witnesses/:id/identity', {
    schema: {
      tags: identityTags,
      summary: 'Erase the identity for good (lead; audited)',
      description: 'Deletes the ciphertext and its wrapped key; the pseudonymous record stays with hasIdentity false and identityErasedAt.',
      params: IdParams,
      body: ReasonBody,
      response: { 204: Type.Null() },
    },
  }, async (request, reply) => {
    await identities.erase(request.actor as Caller, request.params.id, request.body.reason);
    return reply.code(204).send(null);
  });
}
