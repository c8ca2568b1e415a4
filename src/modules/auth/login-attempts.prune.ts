// Job `auth.prune`: login_attempts only feed the rate limits, so a row older than
// both windows is never read again. Without this the table grows with every login for ever.
// (Who signed in, and who failed, stays in the audit trail.)
import type { JobDeps } from '../../jobs/jobs.ts';

export async function pruneLoginAttempts(deps: Pick<JobDeps, 'db' | 'config'>): Promise<number> {
  const keepSeconds = Math.max(deps.config.loginAccountWindowSeconds, deps.config.loginAddressWindowSeconds);
  return deps.db.$executeRaw`DELETE FROM login_attempts WHERE at < now() - make_interval(secs => ${keepSeconds})`;
}
