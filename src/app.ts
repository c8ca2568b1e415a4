// Builds the Custodia HTTP application; src/server.ts makes it listen. Tests call buildApp.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.ts';
import type { Database } from './database/client.ts';
import authenticate from './http/authenticate.ts';
import { loggerOptions } from './http/logger.ts';
import { registerProblemHandlers } from './http/problems.ts';
import openapi from './http/openapi.ts';
import metrics, { type Metrics } from './http/metrics.ts';
import health from './modules/health/health.routes.ts';
import authRoutes from './modules/auth/auth.routes.ts';
import userRoutes from './modules/users/users.routes.ts';
import caseRoutes from './modules/cases/cases.routes.ts';
import memberRoutes from './modules/cases/members.routes.ts';
import auditRoutes from './modules/audit/audit.routes.ts';
import vocabularyRoutes from './modules/vocabularies/vocabularies.routes.ts';
import type { Keys } from './keys.ts';

export interface AppDeps {
  config: Config;
  db: Database;
  keys: Keys;
  metrics?: Metrics;
  /** Where logs go (tests capture them); stdout by default. */
  logStream?: NodeJS.WritableStream;
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
  const app = Fastify({
    logger: loggerOptions(config.logLevel, deps.logStream),
    genReqId: () => randomUUID(),
    trustProxy: config.trustProxy,
    // Uploads and exports can take hours: the server must not cut them.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
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
      await api.register(vocabularyRoutes);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
