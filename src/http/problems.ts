// The one error handler: every failure leaves as an RFC 9457 problem with a stable code.
// Unexpected errors are logged with the request id and answered with a bare 500; an outage of
// what the service stands on (the database, a full evidence disk) is logged as an error too, and
// answered with a 503 that the client may retry.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, isUniqueViolation } from '../database/errors.ts';
import { isStorageFull } from '../storage/health.ts';
import { AppError, type FieldError, type ProblemCode, errorCodeOf, statusOf, titleOf } from './errors.ts';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ProblemCode;
  errors?: FieldError[];
}

export function problemBody(code: ProblemCode, detail: string, request: FastifyRequest, status = statusOf(code), errors?: FieldError[]): ProblemBody {
  return {
    type: `urn:custodia:problem:${code}`,
    title: titleOf(code),
    status,
    detail,
    instance: request.url.split('?')[0] ?? request.url,
    code,
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody, headers: Record<string, string> = {}) {
  return reply.code(body.status).headers(headers).type('application/problem+json').send(body);
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function fieldErrors(error: FastifyError): FieldError[] {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  return ((error.validation ?? []) as ValidationIssue[]).map((issue) => {
    let path = `${context}${(issue.instancePath ?? '').replace(/\//g, '.')}`;
    let message = issue.message ?? 'is not valid';
    if (issue.keyword === 'additionalProperties' && typeof issue.params?.additionalProperty === 'string') {
      path = `${path}.${issue.params.additionalProperty}`;
      message = 'is not a known property';
    } else if (issue.keyword === 'required' && typeof issue.params?.missingProperty === 'string') {
      path = `${path}.${issue.params.missingProperty}`;
      message = 'is required';
    }
    return { path, message };
  });
}

/** Maps Fastify's own errors (parsing, limits, validation) onto the contract's codes. */
function frameworkProblem(error: FastifyError): [ProblemCode, string, FieldError[]?] | null {
  if (error.validation) {
    const errors = fieldErrors(error);
    return ['validation_failed', errors.map((e) => `${e.path} ${e.message}`).join('; '), errors];
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return ['validation_failed', 'The body is not valid JSON.', [{ path: 'body', message: 'is not valid JSON' }]];
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return ['unsupported_media_type', 'This route does not accept that Content-Type.'];
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return ['payload_too_large', 'The request body is larger than this route accepts.'];
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return ['not_found', 'No such route.'];
    case 'FST_PROTO_VIOLATION':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return ['validation_failed', 'The request body is malformed.', [{ path: 'body', message: 'is malformed' }]];
  }
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return ['validation_failed', 'The body is not valid JSON.', [{ path: 'body', message: 'is not valid JSON' }]];
  }
  return null;
}

/** What a 503 for a database outage suggests: long enough for a restart or a failover. */
const DATABASE_RETRY_AFTER_SECONDS = 10;

export function registerProblemHandlers(app: FastifyInstance) {
  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, problemBody('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`, request));
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      const headers: Record<string, string> = { ...error.extra.headers };
      if (error.extra.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.extra.retryAfterSeconds);
      return sendProblem(reply, problemBody(error.code, error.detail, request, error.status, error.extra.errors), headers);
    }
    const mapped = frameworkProblem(error);
    if (mapped) {
      const [code, detail, errors] = mapped;
      request.log.info({ code: error.code }, 'request refused');
      return sendProblem(reply, problemBody(code, detail, request, statusOf(code), errors));
    }
    if (isStorageFull(error)) {
      request.log.error({ errorCode: errorCodeOf(error), syscall: (error as { syscall?: unknown }).syscall }, 'the evidence storage is full');
      return sendProblem(reply, problemBody('service_unavailable', 'The evidence storage is full.', request));
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: error, errorCode: errorCodeOf(error) }, 'the database is unavailable');
      return sendProblem(reply, problemBody('service_unavailable', 'The database is unavailable; try again shortly.', request), { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) });
    }
    if (isUniqueViolation(error)) {
      return sendProblem(reply, problemBody('conflict', 'A record with the same unique value already exists.', request));
    }
    request.log.error({ err: error, errorCode: errorCodeOf(error) }, 'unexpected error');
    return sendProblem(reply, problemBody('internal', 'Something went wrong on our side. Quote the request id when you report it.', request));
  });
}
