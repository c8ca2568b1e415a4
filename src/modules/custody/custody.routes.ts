// The custody log over HTTP: item and case logs, manual entries, signed checkpoints, proofs,
// verification and the published signing keys.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import type { Keys } from '../../keys.ts';
import { MANUAL_CUSTODY_ACTIONS } from './custody.append.ts';
import {
  appendManualEntry,
  consistencyProof,
  inclusionProof,
  latestCheckpoint,
  listCaseEntries,
  listEvidenceEntries,
  publishedKeys,
  verifyLog,
  type CustodyDeps,
} from './custody.service.ts';
import { ensureSigningKey } from './signing-keys.ts';

const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

const Entry = Type.Object({
  v: Type.Literal(1),
  caseId: Type.String(),
  seq: Type.Integer(),
  evidenceId: Type.String(),
  evidenceSha256: Hash,
  action: Type.String(),
  actorId: Type.Union([Type.String(), Type.Null()]),
  at: Type.String(),
  details: Type.Object({}, { additionalProperties: true }),
});
const LogItem = Type.Object({ seq: Type.Integer(), leafHash: Hash, entry: Entry });

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const CaseParams = Type.Object({ caseId: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

const ManualEntryBody = Type.Object(
  {
    action: Type.Union(MANUAL_CUSTODY_ACTIONS.map((a) => Type.Literal(a))),
    note: Type.String({ maxLength: 10_000 }),
    location: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);

const ProofQuery = Type.Object({ seq: Seq, size: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })) }, { additionalProperties: false });
const ConsistencyQuery = Type.Object({ from: Seq, to: Type.Optional(Seq) }, { additionalProperties: false });

const InclusionProof = Type.Object({ seq: Type.Integer(), size: Type.Integer(), leafHash: Hash, rootHash: Hash, proof: Type.Array(Hash) });
const ConsistencyProof = Type.Object({ from: Type.Integer(), to: Type.Integer(), fromRoot: Hash, toRoot: Hash, proof: Type.Array(Hash) });
const Verification = Type.Object({
  valid: Type.Boolean(),
  size: Type.Integer(),
  rootHash: Hash,
  checkpoint: Type.Union([Type.String(), Type.Null()]),
  firstBadSeq: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
});
const PublishedKeys = Type.Object({
  keys: Type.Array(
    Type.Object({
      keyId: Type.String({ pattern: '^[0-9a-f]{8}$' }),
      name: Type.String(),
      publicKeyPem: Type.String(),
      status: Type.Union([Type.Literal('current'), Type.Literal('retired')]),
      createdAt: Type.String({ format: 'date-time' }),
    }),
  ),
});

const tags = ['custody'];
const caller = (request: { actor: unknown }) => request.actor as Caller;

export default async function custodyRoutes(parent: FastifyInstance, { db, config, keys }: { db: Database; config: Config; keys: Keys }) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>();
  const deps: CustodyDeps = { db, config, keys };
  await ensureSigningKey(db, keys.signing, app.log);

  app.get('/custody/keys', { config: { access: 'public' }, schema: { tags, response: { 200: PublishedKeys } } }, () => publishedKeys(deps));

  app.get(
    '/evidence/:id/custody',
    { schema: { tags, params: IdParams, querystring: PageQuery, response: { 200: pageSchema(LogItem) } } },
    (request) => listEvidenceEntries(deps, caller(request), request.params.id, { limit: request.query.limit ?? 50, cursor: request.query.cursor }),
  );

  app.post(
    '/evidence/:id/custody',
    { schema: { tags, params: IdParams, body: ManualEntryBody, response: { 201: LogItem } } },
    async (request, reply) => {
      const appended = await appendManualEntry(deps, caller(request), request.params.id, request.body);
      app.metrics?.custodyAppends.inc({ action: appended.entry.action });
      return reply.code(201).send(appended);
    },
  );

  app.get(
    '/cases/:caseId/custody',
    { schema: { tags, params: CaseParams, querystring: PageQuery, response: { 200: pageSchema(LogItem) } } },
    (request) => listCaseEntries(deps, caller(request), request.params.caseId, { limit: request.query.limit ?? 50, cursor: request.query.cursor }),
  );

  app.get(
    '/cases/:caseId/custody/checkpoint',
    {
      schema: {
        tags,
        params: CaseParams,
        response: { 200: Type.String({ description: 'the signed note (C2SP tlog-checkpoint), text/plain' }) },
      },
    },
    async (request, reply) => {
      const note = await latestCheckpoint(deps, caller(request), request.params.caseId);
      return reply.type('text/plain; charset=utf-8').send(note);
    },
  );

  app.get(
    '/cases/:caseId/custody/proof',
    { schema: { tags, params: CaseParams, querystring: ProofQuery, response: { 200: InclusionProof } } },
    (request) => inclusionProof(deps, caller(request), request.params.caseId, request.query),
  );

  app.get(
    '/cases/:caseId/custody/consistency',
    { schema: { tags, params: CaseParams, querystring: ConsistencyQuery, response: { 200: ConsistencyProof } } },
    (request) => consistencyProof(deps, caller(request), request.params.caseId, request.query),
  );

  app.get(
    '/cases/:caseId/custody/verify',
    { schema: { tags, params: CaseParams, response: { 200: Verification } } },
    (request) => verifyLog(deps, caller(request), request.params.caseId),
  );
}
