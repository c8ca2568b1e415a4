// Typed failures with the contract's stable codes. Services throw these; src/http/problems.ts
// turns them into RFC 9457 problem details. Nothing else reaches a client.

export type ProblemCode =
  | 'validation_failed'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'precondition_failed'
  | 'precondition_required'
  | 'range_not_satisfiable'
  | 'gone'
  | 'service_unavailable'
  | 'internal';

export interface FieldError {
  path: string;
  message: string;
}

const TITLES: Record<ProblemCode, [number, string]> = {
  validation_failed: [400, 'The request is not valid'],
  unauthenticated: [401, 'Authentication required'],
  forbidden: [403, 'Not allowed'],
  not_found: [404, 'Not found'],
  conflict: [409, 'Conflict'],
  payload_too_large: [413, 'Payload too large'],
  unsupported_media_type: [415, 'Unsupported media type'],
  rate_limited: [429, 'Too many requests'],
  precondition_failed: [412, 'Precondition failed'],
  precondition_required: [428, 'Precondition required'],
  range_not_satisfiable: [416, 'Range not satisfiable'],
  gone: [410, 'Gone'],
  service_unavailable: [503, 'Service unavailable'],
  internal: [500, 'Internal error'],
};

export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extra: { errors?: FieldError[]; retryAfterSeconds?: number; status?: number; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    const [status, title] = TITLES[code];
    this.status = extra.status ?? status;
    this.title = title;
  }
}

export function statusOf(code: ProblemCode): number {
  return TITLES[code][0];
}

export function titleOf(code: ProblemCode): string {
  return TITLES[code][1];
}

export const notFound = (what = 'resource') => new AppError('not_found', `No such ${what}.`);
export const forbidden = (detail = 'Your role does not allow this action.') => new AppError('forbidden', detail);
export const conflict = (detail: string) => new AppError('conflict', detail);
export const unauthenticated = () => new AppError('unauthenticated', 'Sign in with a valid token.');
export const gone = (detail: string) => new AppError('gone', detail);
export const invalid = (path: string, message: string) =>
  new AppError('validation_failed', `${path}: ${message}`, { errors: [{ path, message }] });
export const invalidFields = (errors: FieldError[]) =>
  new AppError('validation_failed', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });

/** An error's own code (ENOSPC, P2002…), for the log line's top level: one flat field to alert on. */
export function errorCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
