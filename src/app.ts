// Builds the Custodia HTTP application; src/server.ts makes it listen. Tests call buildApp.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.ts';
import type { Database } from './database/client.ts';
import authenticate from './http/authenticate.ts';
import { lazySerializer, lazyValidator } from './http/lazy-compile.ts';
import { loggerOptions, RequestLogController } from './http/logger.ts';
import { problemBody, registerProblemHandlers, sendProblem } from './http/problems.ts';
import openapi from './http/openapi.ts';
import metrics, { type Metrics } from './http/metrics.ts';
import health from './modules/health/health.routes.ts';
import authRoutes from './modules/auth/auth.routes.ts';
import userRoutes from './modules/users/users.routes.ts';
import caseRoutes from './modules/cases/cases.routes.ts';
import memberRoutes from './modules/cases/members.routes.ts';
import auditRoutes from './modules/audit/audit.routes.ts';
import integrityRoutes from './modules/integrity/integrity.routes.ts';
import vocabularyRoutes from './modules/vocabularies/vocabularies.routes.ts';
import incidentRoutes from './modules/incidents/incidents.routes.ts';
import witnessRoutes from './modules/witnesses/witnesses.routes.ts';
import statementRoutes from './modules/statements/statements.routes.ts';
import custodyRoutes from './modules/custody/custody.routes.ts';
import evidenceRoutes from './modules/evidence/evidence.routes.ts';
import reviewRoutes from './modules/reviews/reviews.routes.ts';
import uploadRoutes from './modules/uploads/uploads.routes.ts';
import exportRoutes from './modules/exports/exports.routes.ts';
import type { Keys } from './keys.ts';
import { type BlobStore, blobStoreFor } from './storage/index.ts';

const validatorPool = AjvCompiler();
type ValidatorPoolArgs = Parameters<typeof validatorPool>;
const serializerPool = SerializerSelector();
type SerializerPoolArgs = Parameters<typeof serializerPool>;

export interface AppDeps {
  config: Config;
  db: Database;
  keys: Keys;
  metrics?: Metrics;
  /** Where logs go (tests capture them); stdout by default. */
  logStream?: NodeJS.WritableStream;
  /** The evidence blob store; the one the configuration names by default (tests pass a failing one). */
  store?: BlobStore;
}

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, db } = deps;
  const store = deps.store ?? blobStoreFor(config);
  const app = Fastify({
    logger: loggerOptions(config.logLevel, deps.logStream),
    logController: new RequestLogController(),
    genReqId: () => randomUUID(),
    trustProxy: config.trustProxy,
    // Uploads and exports can take hours: the server must not cut them.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    bodyLimit: 1024 * 1024,
    // Router-level refusals (a malformed or over-long path) bypass the error handler: answer them
    // as problems too. A path no route can match is a 404, whatever made it unmatchable.
    frameworkErrors: (error, request, reply) => {
      const code = error.code === 'FST_ERR_BAD_URL' ? 'validation_failed' : 'not_found';
      const detail = code === 'not_found' ? 'No such route.' : 'The request URL is malformed.';
      sendProblem(reply, problemBody(code, detail, request));
    },
    // Start-up registers the signing key and warms the password hasher: a loaded machine needs time.
    pluginTimeout: 60_000,
    routerOptions: { ignoreTrailingSlash: true },
    // Query strings, params and headers arrive as text and are coerced; a JSON body is not:
    // {"limit": "5"} where a number is expected is a 400, not silently converted.
    schemaController: {
      compilersFactory: {
        buildValidator(externalSchemas: ValidatorPoolArgs[0], serverOptions: ValidatorPoolArgs[1]) {
          const withCoercion = (coerceTypes: 'array' | false) =>
            validatorPool(externalSchemas, {
              ...serverOptions,
              customOptions: { ...serverOptions?.customOptions, removeAdditional: false, useDefaults: true, allErrors: false, coerceTypes },
            } as ValidatorPoolArgs[1]);
          const coercing = withCoercion('array');
          const strict = withCoercion(false);
          return (route: Parameters<typeof strict>[0]) => lazyValidator(() => (route.httpPart === 'body' ? strict : coercing)(route));
        },
        buildSerializer(externalSchemas: SerializerPoolArgs[0], serializerOptions: SerializerPoolArgs[1]) {
          const build = serializerPool(externalSchemas, serializerOptions);
          return (route: Parameters<typeof build>[0]) => lazySerializer(() => build(route));
        },
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
  });
  registerProblemHandlers(app);
  await app.register(metrics, { metrics: deps.metrics });
  await app.register(openapi);
  await app.register(authenticate, { db, tokenIdleSeconds: config.tokenIdleSeconds });
  await app.register(health, { db, config });

  await app.register(
    async (api) => {
      await api.register(authRoutes, { db, config, keys: deps.keys });
      await api.register(userRoutes, { db, config });
      await api.register(caseRoutes, { db, config });
      await api.register(memberRoutes, { db, config });
      await api.register(auditRoutes, { db });
      await api.register(integrityRoutes, { db });
      await api.register(vocabularyRoutes);
      await api.register(incidentRoutes, { db, config, keys: deps.keys });
      await api.register(witnessRoutes, { db, config, keys: deps.keys });
      await api.register(statementRoutes, { db, config, keys: deps.keys });
      await api.register(custodyRoutes, { db, config, keys: deps.keys });
      await api.register(evidenceRoutes, { db, config, keys: deps.keys, store });
      await api.register(reviewRoutes, { db, config, keys: deps.keys, store });
      await api.register(uploadRoutes, { db, config, keys: deps.keys, store });
      await api.register(exportRoutes, { db, config, keys: deps.keys, store });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
