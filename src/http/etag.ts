// Optimistic concurrency: a mutable record's ETag is its version; PATCH and retractions must
// send it back in If-Match (428 without it, 412 when someone changed the record meanwhile).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors.ts';

export function etagOf(version: number): string {
  return `"${version}"`;
}

export function setEtag(reply: FastifyReply, version: number): void {
  reply.header('etag', etagOf(version));
}

/** The version the client saw, from If-Match. */
export function expectedVersion(request: FastifyRequest): number {
  const header = request.headers['if-match'];
  if (header === undefined || header === '') {
    throw new AppError('precondition_required', 'Send If-Match with the ETag of the version you are changing.');
  }
  const match = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(header);
  if (!match) throw staleVersion();
  return Number(match[1]);
}

export function staleVersion(): AppError {
  return new AppError('precondition_failed', 'The record has changed since you read it: read it again and reapply your change.');
}
