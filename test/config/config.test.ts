// loadConfig: defaults, and a clear message naming the variable for every bad value.
import { resolve } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, parseDuration } from '../../src/config.ts';

t.test('defaults', async (t) => {
  const config = loadConfig({});
  t.match(config, {
    port: 3000,
    host: '127.0.0.1',
    dataDir: resolve('./data'),
    databaseUrl: null,
    logLevel: 'info',
    instanceId: 'custodia',
    organization: 'Custodia',
    trustProxy: false,
    tokenTtlSeconds: 12 * 3600,
    tokenIdleSeconds: 30 * 60,
    masterKey: null,
    masterKeyFile: resolve('./data/keys/master.key'),
    previousMasterKeys: [],
    signingKey: null,
    signingKeyFile: resolve('./data/keys/signing-key.pem'),
    signingKeyName: 'custodia-custodia',
    loginAccountMaxFailures: 10,
    loginAccountWindowSeconds: 15 * 60,
    loginAddressMaxAttempts: 30,
    loginAddressWindowSeconds: 60,
    metricsAddress: null,
    maxUploadBytes: 50 * 1024 ** 3,
    uploadTtlSeconds: 7 * 86400,
    workers: 'inline',
    embeddedPostgresPort: 5433,
    integrityCheckSchedule: '17 3 * * 0',
  });
  t.equal(loadConfig({ PORT: '  ' }).port, 3000, 'a blank value is the default');
});

t.test('values are read and converted', async (t) => {
  const config = loadConfig({
    PORT: '8080', HOST: '0.0.0.0', CUSTODIA_DATA_DIR: '/srv/custodia', DATABASE_URL: 'postgresql://u:p@db:5432/c', LOG_LEVEL: 'debug',
    CUSTODIA_INSTANCE_ID: 'ngo.example-1', CUSTODIA_TRUST_PROXY: 'yes', CUSTODIA_TOKEN_TTL: '1d', CUSTODIA_TOKEN_IDLE_TTL: '900',
    CUSTODIA_PREVIOUS_MASTER_KEYS: ' a, b ,', CUSTODIA_SIGNING_KEY: '-----BEGIN\\nX', CUSTODIA_METRICS_ADDRESS: '[::1]:9464',
    CUSTODIA_MAX_UPLOAD_BYTES: '512M', CUSTODIA_UPLOAD_TTL: '2h', CUSTODIA_WORKERS: 'external', CUSTODIA_EMBEDDED_PG_PORT: '6543',
    CUSTODIA_MASTER_KEY_FILE: 'elsewhere/master.key',
  });
  t.match(config, {
    port: 8080, host: '0.0.0.0', dataDir: '/srv/custodia', databaseUrl: 'postgresql://u:p@db:5432/c', logLevel: 'debug',
    instanceId: 'ngo.example-1', signingKeyName: 'custodia-ngo.example-1', trustProxy: true, tokenTtlSeconds: 86400, tokenIdleSeconds: 900,
    previousMasterKeys: ['a', 'b'], signingKey: '-----BEGIN\nX', metricsAddress: { host: '::1', port: 9464 },
    maxUploadBytes: 512 * 1024 ** 2, uploadTtlSeconds: 7200, workers: 'external', embeddedPostgresPort: 6543,
    masterKeyFile: '/srv/custodia/elsewhere/master.key',
  });
  t.equal(loadConfig({ CUSTODIA_METRICS_ADDRESS: 'off' }).metricsAddress, null);
  t.equal(loadConfig({ CUSTODIA_CHECK_SCHEDULE: 'Off' }).integrityCheckSchedule, null, 'the integrity check can be left to the operator');
  t.equal(loadConfig({ CUSTODIA_CHECK_SCHEDULE: '0 1 * * *' }).integrityCheckSchedule, '0 1 * * *');
  t.equal(loadConfig({ CUSTODIA_TRUST_PROXY: 'false' }).trustProxy, false);
  t.equal(loadConfig({}).directIo, true, 'direct I/O by default');
  t.equal(loadConfig({ CUSTODIA_DIRECT_IO: 'false' }).directIo, false);
  t.equal(parseDuration('15m'), 900);
  t.equal(parseDuration('soon'), null);
});

t.test('every bad value is refused with a message naming the variable', async (t) => {
  const cases: [string, string][] = [
    ['PORT', 'abc'], ['PORT', '70000'], ['PORT', '-1'],
    ['DATABASE_URL', 'not a url'], ['DATABASE_URL', 'mysql://u@h/d'],
    ['LOG_LEVEL', 'loud'],
    ['CUSTODIA_INSTANCE_ID', 'has spaces'],
    ['CUSTODIA_SIGNING_KEY_NAME', 'a+b'],
    ['CUSTODIA_TRUST_PROXY', 'maybe'],
    ['CUSTODIA_DIRECT_IO', 'sometimes'],
    ['CUSTODIA_TOKEN_TTL', 'forever'], ['CUSTODIA_TOKEN_TTL', '0'],
    ['CUSTODIA_TOKEN_IDLE_TTL', '2d'],
    ['CUSTODIA_LOGIN_MAX_FAILURES', '0'], ['CUSTODIA_LOGIN_MAX_FAILURES', 'ten'],
    ['CUSTODIA_LOGIN_FAILURE_WINDOW', '-5'],
    ['CUSTODIA_LOGIN_MAX_ATTEMPTS_PER_ADDRESS', '1.5'],
    ['CUSTODIA_LOGIN_ADDRESS_WINDOW', '1w'],
    ['CUSTODIA_METRICS_ADDRESS', '9464'], ['CUSTODIA_METRICS_ADDRESS', 'host:99999'],
    ['CUSTODIA_MAX_UPLOAD_BYTES', 'lots'],
    ['CUSTODIA_UPLOAD_TTL', 'x'],
    ['CUSTODIA_CHECK_SCHEDULE', 'weekly'], ['CUSTODIA_CHECK_SCHEDULE', '0 1 * *'],
    ['CUSTODIA_WORKERS', 'many'],
    ['CUSTODIA_EMBEDDED_PG_PORT', '0'],
  ];
  for (const [name, value] of cases) {
    t.throws(() => loadConfig({ [name]: value }), { name: 'ConfigError', message: new RegExp(`^${name} `) }, `${name}=${value}`);
  }
  let message = '';
  try {
    loadConfig({ DATABASE_URL: 'postgres://user:hunter2@[bad' });
  } catch (error) {
    t.ok(error instanceof ConfigError);
    message = (error as Error).message;
  }
  t.match(message, /^DATABASE_URL /);
  t.notOk(message.includes('hunter2'), 'a bad DATABASE_URL is not echoed (it may hold a password)');
});
