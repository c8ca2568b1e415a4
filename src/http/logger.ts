// The HTTP app's log options (the service and the tests): JSON lines, request ids, and redaction
// of everything secret (./log-redaction.ts). Fastify's request serializer logs method, url and
// address, never bodies.
import { LogController, type FastifyServerOptions } from 'fastify';
import { baseLogOptions } from './log-redaction.ts';

export function loggerOptions(level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return { ...baseLogOptions(level), ...(stream ? { stream } : {}) } as FastifyServerOptions['logger'];
}

type RequestCompleted = Parameters<LogController['requestCompleted']>;

/**
 * One line per request at info, when it ends; the "incoming request" line at debug (it shows a
 * long upload or export under way when needed, and costs nothing at info). The line names the
 * method and the path without its query string (a search's free text has no place in a log),
 * the status and the time, as plain values: Fastify's request serializer cost a sixth of a simple
 * request's CPU.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    request.log.debug({ req: { method: request.method, url: pathOf(request.url) } }, 'incoming request');
  }

  override requestCompleted(error: RequestCompleted[0], request: RequestCompleted[1], reply: RequestCompleted[2]): void {
    const line = { req: { method: request.method, url: pathOf(request.url) }, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
