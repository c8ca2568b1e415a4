// Signing in and out, and the caller's own account: /auth/login, /auth/logout, /me, /me/password, /me/totp.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import type { Keys } from '../../keys.ts';
import { EmailSchema, PasswordSchema, UserSchema } from '../users/users.schema.ts';
import { prepareDummyHash } from './passwords.ts';
import { changePassword, confirmTotp, enrolTotp, login, logout, me, removeTotp } from './auth.service.ts';

const TotpCode = Type.String({ minLength: 1, maxLength: 16 });

const LoginBody = Type.Object(
  { email: EmailSchema, password: PasswordSchema, totp: Type.Optional(TotpCode) },
  { additionalProperties: false },
);
const LoginAnswer = Type.Object({ token: Type.String(), expiresAt: Type.String({ format: 'date-time' }), user: UserSchema });

const Membership = Type.Object({
  caseId: Type.String({ format: 'uuid' }),
  caseReference: Type.String(),
  role: Type.String(),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const MeAnswer = Type.Object({ ...UserSchema.properties, memberships: Type.Array(Membership) });

const PasswordBody = Type.Object({ currentPassword: PasswordSchema, newPassword: PasswordSchema }, { additionalProperties: false });
const CodeBody = Type.Object({ code: TotpCode }, { additionalProperties: false });
const Enrolment = Type.Object({ secret: Type.String(), uri: Type.String() });

export default async function routes(app: FastifyInstance, options: { db: Database; config: Config; keys: Keys }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const deps = { db: options.db, config: options.config, keys: options.keys };
  prepareDummyHash().catch((error: unknown) => app.log.error({ err: error }, 'could not prepare the dummy password hash'));

  api.post(
    '/auth/login',
    { config: { access: 'public' }, schema: { tags: ['auth'], security: [], body: LoginBody, response: { 200: LoginAnswer } } },
    async (request) => login(deps, request.actor, request.body),
  );

  api.post('/auth/logout', { schema: { tags: ['auth'], response: { 204: Type.Null() } } }, async (request, reply) => {
    await logout(deps.db, request.actor as Caller);
    return reply.code(204).send(null);
  });

  api.get('/me', { schema: { tags: ['auth'], response: { 200: MeAnswer } } }, async (request) => me(deps.db, request.actor as Caller));

  api.post('/me/password', { schema: { tags: ['auth'], body: PasswordBody, response: { 204: Type.Null() } } }, async (request, reply) => {
    await changePassword(deps, request.actor as Caller, request.body);
    return reply.code(204).send(null);
  });

  api.post('/me/totp', { schema: { tags: ['auth'], response: { 200: Enrolment } } }, async (request) => enrolTotp(deps, request.actor as Caller));

  api.post('/me/totp/confirm', { schema: { tags: ['auth'], body: CodeBody, response: { 200: UserSchema } } }, async (request) =>
    confirmTotp(deps, request.actor as Caller, request.body.code),
  );

  api.delete('/me/totp', { schema: { tags: ['auth'], body: CodeBody, response: { 204: Type.Null() } } }, async (request, reply) => {
    await removeTotp(deps, request.actor as Caller, request.body.code);
    return reply.code(204).send(null);
  });
}
