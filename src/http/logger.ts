// Log options shared by the service and its tests: JSON lines, request ids, and redaction of
// everything secret. Fastify's request serializer logs method, url and address, never bodies.
import type { FastifyServerOptions } from 'fastify';

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
