// The server side of `npm run bench:ingest`, run as a child process so that its resident memory
// is measured on its own (/proc/<pid>/status). Creates a user, a case and a token, listens on a
// free port, and prints `{port, token, caseId}` as one JSON line.
import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createMasterKeyring, generateMasterKey, generateSigningKey } from '../src/crypto/index.ts';
import { createDatabaseClient } from '../src/database/client.ts';
import { hashPassword } from '../src/modules/auth/passwords.ts';
import { newToken } from '../src/modules/auth/tokens.ts';

const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
const db = createDatabaseClient(config.databaseUrl!, 5);
const app = await buildApp({ config, db, keys: { masterRing: createMasterKeyring(generateMasterKey()), signing: generateSigningKey('bench') } });

const tag = randomBytes(4).toString('hex');
const user = await db.user.create({ data: { email: `bench-${tag}@example.org`, displayName: 'bench', role: 'member', passwordHash: await hashPassword(randomBytes(16).toString('hex')) } });
const created = await db.case.create({ data: { reference: `BENCH-${tag}`, title: 'bench', createdBy: user.id } });
await db.caseMembership.create({ data: { caseId: created.id, userId: user.id, role: 'investigator' } });
const { token, hash } = newToken();
await db.session.create({ data: { userId: user.id, tokenHash: new Uint8Array(hash), expiresAt: new Date(Date.now() + 6 * 3600_000), address: '127.0.0.1' } });

await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as { port: number };
process.stdout.write(`${JSON.stringify({ port, token, caseId: created.id })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => db.$disconnect()).then(() => process.exit(0));
});
