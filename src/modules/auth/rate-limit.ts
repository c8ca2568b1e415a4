// Login rate limits, kept in login_attempts so that they hold across service instances:
// failures per account since its last success (unknown emails included) and attempts per address
// (refused ones and successes included). Windows are measured with the database clock, the one
// all instances share. A success clears the account's count: whoever succeeds knows the password,
// and a user who mistyped it nine times should not be locked out by the tenth typo of the week.
import type { Db } from '../../database/client.ts';

export interface LoginLimits {
  loginAccountMaxFailures: number;
  loginAccountWindowSeconds: number;
  loginAddressMaxAttempts: number;
  loginAddressWindowSeconds: number;
}

/**
 * Seconds until the limit admits one more attempt, or null when it admits one now. The `max`-th
 * most recent counted row is the one whose leaving the window brings the count under `max`.
 */
function secondsUntilAdmitted(rows: { wait: number }[]): number | null {
  const row = rows[0];
  return row === undefined ? null : Math.max(1, Math.ceil(row.wait));
}

export async function loginRetryAfter(db: Db, email: string, address: string, limits: LoginLimits): Promise<number | null> {
  const account = secondsUntilAdmitted(
    await db.$queryRaw<{ wait: number }[]>`
      SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => ${limits.loginAccountWindowSeconds}) - now()))::float8 AS wait
      FROM login_attempts
      WHERE email = ${email} AND NOT succeeded AND NOT refused
        AND at > now() - make_interval(secs => ${limits.loginAccountWindowSeconds})
        AND at > COALESCE((SELECT max(at) FROM login_attempts WHERE email = ${email} AND succeeded), '-infinity')
      ORDER BY at DESC OFFSET ${limits.loginAccountMaxFailures - 1} LIMIT 1`,
  );
  const perAddress = secondsUntilAdmitted(
    await db.$queryRaw<{ wait: number }[]>`
      SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => ${limits.loginAddressWindowSeconds}) - now()))::float8 AS wait
      FROM login_attempts
      WHERE address = ${address}
        AND at > now() - make_interval(secs => ${limits.loginAddressWindowSeconds})
      ORDER BY at DESC OFFSET ${limits.loginAddressMaxAttempts - 1} LIMIT 1`,
  );
  if (account === null) return perAddress;
  if (perAddress === null) return account;
  return Math.max(account, perAddress);
}

export async function recordLoginAttempt(
  db: Db,
  attempt: { email: string; address: string; succeeded: boolean; refused?: boolean },
): Promise<void> {
  await db.loginAttempt.create({
    data: { email: attempt.email, address: attempt.address, succeeded: attempt.succeeded, refused: attempt.refused ?? false },
  });
}
