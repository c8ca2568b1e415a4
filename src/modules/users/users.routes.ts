// Administration of accounts (admins only): create, list, read, and change role, name or state.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import type { Caller } from '../../http/caller.ts';
import { expectedVersion, setEtag } from '../../http/etag.ts';
import { PageQuery, pageSchema } from '../../http/pagination.ts';
import { createUser, getUser, listUsers, updateUser } from './users.service.ts';
import { DisplayNameSchema, EmailSchema, GlobalRoleSchema, PasswordSchema, UserSchema } from './users.schema.ts';

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

const CreateUserBody = Type.Object(
  { email: EmailSchema, displayName: DisplayNameSchema, password: PasswordSchema, role: GlobalRoleSchema },
  { additionalProperties: false },
);

const UpdateUserBody = Type.Object(
  { displayName: Type.Optional(DisplayNameSchema), role: Type.Optional(GlobalRoleSchema), disabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);

export default async function routes(app: FastifyInstance, options: { db: Database; config: Config }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = options;

  api.post(
    '/users',
    {
      config: { access: 'admin' },
      schema: { tags: ['users'], body: CreateUserBody, response: { 201: UserSchema} },
    },
    async (request, reply) => {
      const user = await createUser(db, request.actor as Caller, request.body);
      setEtag(reply, user.version);
      return reply.code(201).send(user);
    },
  );

  api.get(
    '/users',
    {
      config: { access: 'admin' },
      schema: { tags: ['users'], querystring: PageQuery, response: { 200: pageSchema(UserSchema)} },
    },
    async (request) => listUsers(db, request.query.limit ?? 50, request.query.cursor),
  );

  api.get(
    '/users/:id',
    {
      config: { access: 'admin' },
      schema: { tags: ['users'], params: IdParams, response: { 200: UserSchema} },
    },
    async (request, reply) => {
      const user = await getUser(db, request.params.id);
      setEtag(reply, user.version);
      return user;
    },
  );

  api.patch(
    '/users/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['users'],
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: UserSchema},
      },
    },
    async (request, reply) => {
      const version = expectedVersion(request);
      const user = await updateUser(db, request.actor as Caller, request.params.id, version, request.body);
      setEtag(reply, user.version);
      return user;
    },
  );
}
