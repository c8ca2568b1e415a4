// A Custodia app on a fresh database and data directory, with its logs captured, and factories
// for users, tokens and cases with one member of every role.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createMasterKeyring, generateMasterKey, generateSigningKey, masterKeyToBase64 } from '../../src/crypto/index.ts';
import { createDatabaseClient, type Database } from '../../src/database/client.ts';
import type { Keys } from '../../src/keys.ts';
import type { BlobStore } from '../../src/storage/index.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { hashPassword } from '../../src/modules/auth/passwords.ts';
import { newToken } from '../../src/modules/auth/tokens.ts';
import type { CaseRole } from '../../src/modules/cases/case-permissions.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const TEST_PASSWORD = 'correct horse battery staple';
let testPasswordHash: Promise<string> | null = null;

type Tap = Pick<Test, 'teardown' | 'fail'>;

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
  role: 'admin' | 'member';
}

export type RoleName = CaseRole | 'admin' | 'outsider' | 'anonymous';
export const CASE_ROLE_NAMES: CaseRole[] = ['lead', 'investigator', 'reviewer', 'counsel', 'observer'];
export const ALL_ROLE_NAMES: RoleName[] = ['anonymous', 'admin', ...CASE_ROLE_NAMES, 'outsider'];

export interface TestCase {
  id: string;
  reference: string;
  /** Members of the case by role, plus an admin who is not a member and a member of another case. */
  users: Record<Exclude<RoleName, 'anonymous'>, TestUser>;
  otherCaseId: string;
}

export interface TestContext {
  app: App;
  db: Database;
  database: TestDatabase;
  config: Config;
  keys: Keys;
  dataDir: string;
  /** Every log line the app wrote, as JSON text. */
  logs: string[];
  /** Strings that must never appear in the logs (checked at teardown). */
  secrets: Set<string>;
  createUser(options?: { role?: 'admin' | 'member'; email?: string; displayName?: string }): Promise<TestUser>;
  createCase(options?: { reference?: string }): Promise<TestCase>;
  addMember(caseId: string, userId: string, role: CaseRole, expiresAt?: Date | null): Promise<void>;
  inject(as: TestUser | null, options: InjectOptions): Promise<LightMyRequestResponse>;
  /** JSON body of a request made as a user. */
  json<T = any>(as: TestUser | null, method: InjectOptions['method'], url: string, payload?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: LightMyRequestResponse['headers'] }>;
}

let counter = 0;
const unique = () => `${process.pid}-${Date.now().toString(36)}-${++counter}`;

export interface TestContextOptions {
  /** The blob store the app uses, made from the test's configuration (default: the configured one). */
  store?: (config: Config) => BlobStore;
}

export async function createTestContext(t: Tap, env: Record<string, string> = {}, options: TestContextOptions = {}): Promise<TestContext> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-test-'));
  const masterKey = generateMasterKey();
  const config = loadConfig({
    CUSTODIA_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'info',
    CUSTODIA_MASTER_KEY: masterKeyToBase64(masterKey),
    ...env,
  });
  const keys: Keys = { masterRing: createMasterKeyring(masterKey), signing: generateSigningKey('custodia-test') };
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(line);
      done();
    },
  });
  const db = createDatabaseClient(database.url, 5);
  const app = await buildApp({ config, db, keys, logStream, metrics: createMetrics(false), store: options.store?.(config) });
  await app.ready();
  const secrets = new Set<string>();

  t.teardown(async () => {
    await app.close();
    await db.$disconnect();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
    const text = logs.join('\n');
    for (const secret of secrets) {
      if (secret && text.includes(secret)) t.fail(`a secret reached the logs: ${secret.slice(0, 4)}…`);
    }
  });

  const ctx: TestContext = {
    app,
    db,
    database,
    config,
    keys,
    dataDir,
    logs,
    secrets,
    async createUser(options = {}) {
      testPasswordHash ??= hashPassword(TEST_PASSWORD);
      const email = options.email ?? `user-${unique()}@example.org`;
      const role = options.role ?? 'member';
      const user = await db.user.create({
        data: { email, displayName: options.displayName ?? email.split('@')[0]!, role, passwordHash: await testPasswordHash },
      });
      const { token, hash } = newToken();
      await db.session.create({
        data: { userId: user.id, tokenHash: new Uint8Array(hash), expiresAt: new Date(Date.now() + 3600_000), address: '127.0.0.1' },
      });
      secrets.add(token);
      return { id: user.id, email, password: TEST_PASSWORD, token, role };
    },
    async addMember(caseId, userId, role, expiresAt = null) {
      await db.caseMembership.upsert({
        where: { caseId_userId: { caseId, userId } },
        create: { caseId, userId, role, expiresAt },
        update: { role, expiresAt },
      });
    },
    async createCase(options = {}) {
      const admin = await ctx.createUser({ role: 'admin' });
      const reference = options.reference ?? `CASE-${unique()}`;
      const created = await db.case.create({ data: { reference, title: `Case ${reference}`, createdBy: admin.id } });
      const other = await db.case.create({ data: { reference: `OTHER-${unique()}`, title: 'Another case', createdBy: admin.id } });
      const users = { admin } as TestCase['users'];
      for (const role of CASE_ROLE_NAMES) {
        users[role] = await ctx.createUser();
        await ctx.addMember(created.id, users[role].id, role);
      }
      users.outsider = await ctx.createUser();
      await ctx.addMember(other.id, users.outsider.id, 'lead');
      return { id: created.id, reference, users, otherCaseId: other.id };
    },
    inject(as, options) {
      const headers = { ...(options.headers ?? {}) } as Record<string, string>;
      if (as) headers.authorization = `Bearer ${as.token}`;
      return app.inject({ ...options, headers });
    },
    async json(as, method, url, payload, headers = {}) {
      const response = await ctx.inject(as, {
        method,
        url,
        headers,
        ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
      });
      let body: any = null;
      try {
        body = response.body ? JSON.parse(response.body) : null;
      } catch {
        body = response.body;
      }
      return { status: response.statusCode, body, headers: response.headers };
    },
  };
  return ctx;
}

/** The user standing for a role name in a role matrix (null for anonymous). */
export function userFor(testCase: TestCase, role: RoleName): TestUser | null {
  return role === 'anonymous' ? null : testCase.users[role];
}
