// Log options shared by the service and its tests: JSON lines, request ids, and redaction of
// everything secret. Fastify's request serializer logs method, url and address, never bodies.
import { LogController, type FastifyServerOptions } from 'fastify';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.totp',
  '*.code',
  '*.secret',
  '*.fullName',
  '*.contact',
  '*.dateOfBirth',
  'err.config',
];

export function loggerOptions(level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(stream ? { stream } : {}),
  };
}

type RequestCompleted = Parameters<LogController['requestCompleted']>;

/**
 * One line per request at info, when it ends, with the request in it; the "incoming request" line
 * at debug (it shows a long upload or export under way when needed, and costs nothing at info).
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: RequestCompleted[0], request: RequestCompleted[1], reply: RequestCompleted[2]): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
