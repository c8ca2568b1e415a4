import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import { AppError } from '../../http/errors.ts';
import { checkStorage } from '../../storage/health.ts';

const Status = Type.Object({ status: Type.String() });

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export default async function healthRoutes(app: FastifyInstance, { db, config }: { db: Database; config: Config }) {
  app.get('/health/live', { config: { access: 'public' }, schema: { tags: ['operations'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { config: { access: 'public' }, schema: { tags: ['operations'], response: { 200: Status } } }, async (request) => {
    try {
      await withTimeout(db.$queryRaw`SELECT 1`, 2000);
    } catch (error) {
      request.log.warn({ err: { message: (error as Error).message } }, 'readiness: database unreachable');
      throw new AppError('service_unavailable', 'The database is unreachable.');
    }
    try {
      await checkStorage(config.dataDir);
    } catch (error) {
      request.log.warn({ err: { message: (error as Error).message } }, 'readiness: storage unavailable');
      throw new AppError('service_unavailable', 'The evidence storage is unavailable.');
    }
    return { status: 'ready' };
  });
}
