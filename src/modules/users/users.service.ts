// User administration: the rules every entry point applies (the API's admin routes and the
// `custodia user` command), each change audited and kept as a revision in one transaction.
import type { Database, Db } from '../../database/client.ts';
import { isUniqueViolation } from '../../database/errors.ts';
import type { Actor, Caller } from '../../http/caller.ts';
import { AppError, conflict, invalid, notFound } from '../../http/errors.ts';
import { staleVersion } from '../../http/etag.ts';
import { decodeCursor, encodeCursor } from '../../http/pagination.ts';
import { audit } from '../audit/audit.ts';
import { recordRevision, changedFields, type FieldChange } from '../revisions/revisions.ts';
import { assertAcceptablePassword, hashPassword } from '../auth/passwords.ts';
import { revokeUserSessions } from '../auth/sessions.repository.ts';
import {
  findUserByEmail,
  findUserById,
  insertUser,
  listUsersPage,
  setPasswordHash,
  updateUserAtVersion,
} from './users.repository.ts';
import { toUser, type User, type UserRow } from './users.schema.ts';
import { UUID } from '../../http/uuid.ts';

export type GlobalRole = User['role'];

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

/** Emails are stored and compared in lower case. */
export function normalizeEmail(email: string): string {
  return email.toLowerCase();
}

function assertEmail(email: string, field = 'body.email'): void {
  if (email.length < 3 || email.length > 254 || !EMAIL.test(email)) throw invalid(field, 'is not an email address');
}

function assertDisplayName(displayName: string, field = 'body.displayName'): void {
  if (displayName.trim().length === 0 || [...displayName].length > 200) throw invalid(field, 'must hold 1 to 200 characters');
}

/** revisions.actor_id is nullable (the command line acts as no signed-in user); recordRevision's type is not. */
function revisionActor(actor: Actor): string {
  return actor.user?.id as string;
}

async function recordUserRevision(db: Db, actor: Actor, user: User, changes: FieldChange[]): Promise<void> {
  await recordRevision(db, {
    entityType: 'user',
    entityId: user.id,
    caseId: null,
    version: user.version,
    snapshot: { ...user },
    changes,
    actorId: revisionActor(actor),
  });
}

export async function createUser(
  db: Database,
  actor: Actor,
  input: { email: string; displayName: string; password: string; role: GlobalRole },
  via: 'api' | 'cli' = 'api',
): Promise<User> {
  const email = normalizeEmail(input.email);
  assertEmail(email);
  assertDisplayName(input.displayName);
  assertAcceptablePassword(input.password);
  const passwordHash = await hashPassword(input.password);
  try {
    return await db.$transaction(async (tx) => {
      const user = toUser(await insertUser(tx, { email, displayName: input.displayName, role: input.role, passwordHash }));
      await recordUserRevision(tx, actor, user, []);
      await audit(tx, actor, { action: 'user.create', targetType: 'user', targetId: user.id, details: { role: user.role, via } });
      return user;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict('A user with this email already exists.');
    throw error;
  }
}

export async function getUser(db: Db, id: string): Promise<User> {
  const row = await findUserById(db, id);
  if (!row) throw notFound('user');
  return toUser(row);
}

export async function listUsers(db: Db, limit: number, cursor: string | undefined): Promise<{ items: User[]; nextCursor: string | null }> {
  const key = decodeCursor(cursor, ['string', 'string']);
  if (key && (!PG_TIMESTAMP.test(key[0] as string) || !UUID.test(key[1] as string))) {
    throw invalid('querystring.cursor', 'is not a cursor this list gave out');
  }
  const rows = await listUsersPage(db, limit + 1, key ? { createdAt: key[0] as string, id: key[1] as string } : null);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((row: UserRow) => toUser(row)),
    nextCursor: rows.length > limit && last ? encodeCursor([last.createdAtText, last.id]) : null,
  };
}

export async function updateUser(
  db: Database,
  caller: Caller,
  id: string,
  version: number,
  patch: { displayName?: string; role?: GlobalRole; disabled?: boolean },
): Promise<User> {
  if (patch.displayName !== undefined) assertDisplayName(patch.displayName);
  if (id === caller.user.id && (patch.role === 'member' || patch.disabled === true)) {
    // Refused so that the service always keeps at least one administrator who can sign in.
    throw conflict('You cannot disable or demote yourself: ask another administrator.');
  }
  return db.$transaction(async (tx) => {
    const before = await findUserById(tx, id);
    if (!before) throw notFound('user');
    const updated = await updateUserAtVersion(tx, id, version, patch);
    if (!updated) throw staleVersion();
    const user = toUser(updated);
    const changes = changedFields(toUser(before), user);
    let revokedSessions = 0;
    if (user.disabled && !before.disabled) revokedSessions = await revokeUserSessions(tx, id);
    await recordUserRevision(tx, caller, user, changes);
    await audit(tx, caller, {
      action: 'user.update',
      targetType: 'user',
      targetId: id,
      details: { fields: changes.map((c) => c.field), ...(revokedSessions ? { revokedSessions } : {}) },
    });
    return user;
  });
}

/** Sets a new password for an account (the command line's reset) and revokes all its tokens. */
export async function resetPassword(db: Database, actor: Actor, emailInput: string, password: string): Promise<User> {
  const email = normalizeEmail(emailInput);
  assertAcceptablePassword(password);
  const existing = await findUserByEmail(db, email);
  if (!existing) throw new AppError('not_found', `No user has the email ${email}.`);
  const passwordHash = await hashPassword(password);
  return db.$transaction(async (tx) => {
    await setPasswordHash(tx, existing.id, passwordHash);
    const revokedSessions = await revokeUserSessions(tx, existing.id);
    await audit(tx, actor, { action: 'user.password_reset', targetType: 'user', targetId: existing.id, details: { revokedSessions, via: 'cli' } });
    return toUser(existing);
  });
}
