// Signing in and out, the caller's own account (password, TOTP). Every way a login can fail
// answers the same 401 after the same work (one password hash verified); only the audit trail,
// read by administrators, says why.
import type { Config } from '../../config.ts';
import type { Database, Db } from '../../database/client.ts';
import type { Actor, Caller } from '../../http/caller.ts';
import { AppError, conflict, forbidden, invalid } from '../../http/errors.ts';
import type { Keys } from '../../keys.ts';
import { audit } from '../audit/audit.ts';
import { recordRevision } from '../revisions/revisions.ts';
import { findUserById, findUserByEmail, claimTotpStep, liveMembershipsOf, setPasswordHash, setTotp } from '../users/users.repository.ts';
import { toUser, type User } from '../users/users.schema.ts';
import { normalizeEmail } from '../users/users.service.ts';
import { assertAcceptablePassword, hashPassword, verifyPassword } from './passwords.ts';
import { loginRetryAfter, recordLoginAttempt } from './rate-limit.ts';
import { createSession, revokeSession, revokeUserSessions } from './sessions.repository.ts';
import { newToken } from './tokens.ts';
import { newTotpSecret, openTotpSecret, sealTotpSecret, totpStep } from './totp.ts';

export interface AuthDeps {
  db: Database;
  config: Config;
  keys: Keys;
}

type FailureReason = 'bad_credentials' | 'disabled' | 'totp_missing' | 'totp_invalid' | 'totp_replayed';

const loginFailed = () => new AppError('unauthenticated', 'The email, password or one-time code is not correct.');

const rateLimited = (retryAfterSeconds: number) =>
  new AppError('rate_limited', 'Too many sign-in attempts: wait before trying again.', { retryAfterSeconds });

interface TotpRow {
  id: string;
  totpSecret: Uint8Array | null;
  totpKey: Uint8Array | null;
  totpKeyId: string | null;
}

function totpSecretOf(row: TotpRow, keys: Keys): Buffer | null {
  if (!row.totpSecret || !row.totpKey || !row.totpKeyId) return null;
  return openTotpSecret(
    row.id,
    { ciphertext: Buffer.from(row.totpSecret), wrappedKey: Buffer.from(row.totpKey), masterKeyId: row.totpKeyId },
    keys.masterRing,
  );
}

/** Refuses with 429 when the account or the address is over its limit, recording the refusal. */
async function enforceRateLimit(deps: AuthDeps, actor: Actor, email: string, action: string, actorId: string | null): Promise<void> {
  const retryAfter = await loginRetryAfter(deps.db, email, actor.address, deps.config);
  if (retryAfter === null) return;
  await deps.db.$transaction(async (tx) => {
    await recordLoginAttempt(tx, { email, address: actor.address, succeeded: false, refused: true });
    await audit(tx, actor, { action, outcome: 'failure', actorId, targetType: actorId ? 'user' : undefined, targetId: actorId ?? undefined, details: { reason: 'rate_limited' } });
  });
  throw rateLimited(retryAfter);
}

export async function login(
  deps: AuthDeps,
  actor: Actor,
  input: { email: string; password: string; totp?: string },
): Promise<{ token: string; expiresAt: string; user: User }> {
  const { db, config, keys } = deps;
  const email = normalizeEmail(input.email);
  const user = await findUserByEmail(db, email);
  await enforceRateLimit(deps, actor, email, 'auth.login', user?.id ?? null);

  // Always one hash verified, whether or not the account exists.
  const passwordMatches = await verifyPassword(user?.passwordHash ?? null, input.password);
  let reason: FailureReason | null = null;
  let step: number | null = null;
  if (!user || !passwordMatches) reason = 'bad_credentials';
  else if (user.disabled) reason = 'disabled';
  else if (user.totpEnabled) {
    const secret = totpSecretOf(user, keys);
    step = secret && input.totp !== undefined ? totpStep(secret, input.totp) : null;
    if (input.totp === undefined) reason = 'totp_missing';
    else if (step === null) reason = 'totp_invalid';
  }

  const session = await db.$transaction(async (tx) => {
    if (reason === null && step !== null && !(await claimTotpStep(tx, user!.id, step))) reason = 'totp_replayed';
    await recordLoginAttempt(tx, { email, address: actor.address, succeeded: reason === null });
    await audit(tx, actor, {
      action: 'auth.login',
      outcome: reason === null ? 'success' : 'failure',
      actorId: user?.id ?? null,
      ...(user ? { targetType: 'user', targetId: user.id } : {}),
      details: reason === null ? { method: user!.totpEnabled ? 'password+totp' : 'password' } : { reason },
    });
    if (reason !== null) return null;
    const { token, hash } = newToken();
    const expiresAt = new Date(Date.now() + config.tokenTtlSeconds * 1000);
    await createSession(tx, { userId: user!.id, tokenHash: hash, expiresAt, address: actor.address, userAgent: actor.userAgent });
    return { token, expiresAt };
  });
  if (!session) throw loginFailed();
  return { token: session.token, expiresAt: session.expiresAt.toISOString(), user: toUser(user!) };
}

export async function logout(db: Database, caller: Caller): Promise<void> {
  await db.$transaction(async (tx) => {
    await revokeSession(tx, caller.user.sessionId);
    await audit(tx, caller, { action: 'auth.logout', targetType: 'user', targetId: caller.user.id });
  });
}

async function currentUser(db: Db, caller: Caller) {
  const user = await findUserById(db, caller.user.id);
  // The authentication hook found this user a moment ago; a vanished row is a lost token.
  if (!user) throw new AppError('unauthenticated', 'Sign in with a valid token.');
  return user;
}

export async function me(db: Db, caller: Caller) {
  const user = await currentUser(db, caller);
  const memberships = await liveMembershipsOf(db, user.id, new Date());
  return {
    ...toUser(user),
    memberships: memberships.map((m) => ({
      caseId: m.caseId,
      caseReference: m.case.reference,
      role: m.role,
      expiresAt: m.expiresAt?.toISOString() ?? null,
    })),
  };
}

/** A failed proof of identity by a signed-in caller counts against the account, as a failed login does. */
async function recordProofFailure(db: Database, caller: Caller, email: string, action: string, reason: string): Promise<void> {
  await db.$transaction(async (tx) => {
    await recordLoginAttempt(tx, { email, address: caller.address, succeeded: false });
    await audit(tx, caller, { action, outcome: 'failure', targetType: 'user', targetId: caller.user.id, details: { reason } });
  });
}

export async function changePassword(deps: AuthDeps, caller: Caller, input: { currentPassword: string; newPassword: string }): Promise<void> {
  const { db } = deps;
  assertAcceptablePassword(input.newPassword, 'body.newPassword');
  const user = await currentUser(db, caller);
  await enforceRateLimit(deps, caller, user.email, 'auth.password_change', user.id);
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    await recordProofFailure(db, caller, user.email, 'auth.password_change', 'bad_credentials');
    throw forbidden('The current password is not correct.');
  }
  const passwordHash = await hashPassword(input.newPassword);
  await db.$transaction(async (tx) => {
    await setPasswordHash(tx, user.id, passwordHash);
    const revokedSessions = await revokeUserSessions(tx, user.id, caller.user.sessionId);
    await audit(tx, caller, { action: 'auth.password_change', targetType: 'user', targetId: user.id, details: { revokedSessions } });
  });
}

async function recordTotpRevision(db: Db, caller: Caller, user: User, enabled: boolean): Promise<void> {
  await recordRevision(db, {
    entityType: 'user',
    entityId: user.id,
    caseId: null,
    version: user.version,
    snapshot: { ...user },
    changes: [{ field: 'totpEnabled', from: !enabled, to: enabled }],
    actorId: caller.user.id,
  });
}

export async function enrolTotp(deps: AuthDeps, caller: Caller): Promise<{ secret: string; uri: string }> {
  const { db, keys } = deps;
  const user = await currentUser(db, caller);
  if (user.totpEnabled) throw conflict('Two-factor authentication is already enabled: remove it before enrolling again.');
  const secret = newTotpSecret(user.email);
  const sealed = sealTotpSecret(user.id, secret.raw, keys.masterRing);
  secret.raw.fill(0);
  await db.$transaction(async (tx) => {
    await setTotp(tx, user.id, {
      totpSecret: new Uint8Array(sealed.ciphertext),
      totpKey: new Uint8Array(sealed.wrappedKey),
      totpKeyId: sealed.masterKeyId,
      totpEnabled: false,
      totpLastStep: null,
    }, false);
    await audit(tx, caller, { action: 'auth.totp_enrol', targetType: 'user', targetId: user.id });
  });
  return { secret: secret.base32, uri: secret.uri };
}

export async function confirmTotp(deps: AuthDeps, caller: Caller, code: string): Promise<User> {
  const { db, keys } = deps;
  const user = await currentUser(db, caller);
  if (user.totpEnabled) throw conflict('Two-factor authentication is already enabled.');
  const secret = totpSecretOf(user, keys);
  if (!secret) throw conflict('No two-factor enrolment is pending: start one with POST /me/totp.');
  const step = totpStep(secret, code);
  if (step === null) throw invalid('body.code', 'is not the current code of this enrolment');
  return db.$transaction(async (tx) => {
    if (!(await claimTotpStep(tx, user.id, step))) throw invalid('body.code', 'was used already: wait for the next one');
    const updated = toUser(await setTotp(tx, user.id, { totpEnabled: true }, true));
    await recordTotpRevision(tx, caller, updated, true);
    await audit(tx, caller, { action: 'auth.totp_enable', targetType: 'user', targetId: user.id });
    return updated;
  });
}

export async function removeTotp(deps: AuthDeps, caller: Caller, code: string): Promise<void> {
  const { db, keys } = deps;
  const user = await currentUser(db, caller);
  const secret = totpSecretOf(user, keys);
  if (!secret) throw conflict('Two-factor authentication is not set up.');
  await enforceRateLimit(deps, caller, user.email, 'auth.totp_disable', user.id);
  const step = totpStep(secret, code);
  const claimed = step !== null && (await claimTotpStep(db, user.id, step));
  if (!claimed) {
    await recordProofFailure(db, caller, user.email, 'auth.totp_disable', 'totp_invalid');
    throw forbidden('The one-time code is not correct.');
  }
  await db.$transaction(async (tx) => {
    const updated = toUser(await setTotp(tx, user.id, { totpSecret: null, totpKey: null, totpKeyId: null, totpEnabled: false, totpLastStep: null }, user.totpEnabled));
    if (user.totpEnabled) await recordTotpRevision(tx, caller, updated, false);
    await audit(tx, caller, { action: 'auth.totp_disable', targetType: 'user', targetId: user.id });
  });
}
