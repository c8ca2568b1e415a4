// Every environment variable the service reads, validated once at boot. A bad value stops the
// process with a message naming the variable (exit code 78, EX_CONFIG), never a stack trace.
import { resolve } from 'node:path';

export type WorkerMode = 'inline' | 'external';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  instanceId: string;
  organization: string;
  trustProxy: boolean;
  tokenTtlSeconds: number;
  tokenIdleSeconds: number;
  masterKey: string | null;
  masterKeyFile: string;
  previousMasterKeys: string[];
  signingKey: string | null;
  signingKeyFile: string;
  signingKeyName: string;
  loginAccountMaxFailures: number;
  loginAccountWindowSeconds: number;
  loginAddressMaxAttempts: number;
  loginAddressWindowSeconds: number;
  metricsAddress: { host: string; port: number } | null;
  maxUploadBytes: number;
  uploadTtlSeconds: number;
  /** Evidence bytes go to the disk past the page cache (O_DIRECT) where the filesystem allows it. */
  directIo: boolean;
  /** Cron line (5 fields, UTC) of the `uploads.expire` job. */
  uploadExpirySchedule: string;
  /** Cron line of the `integrity.check` job; null: off (`custodia check` from the operator's own scheduler). */
  integrityCheckSchedule: string | null;
  workers: WorkerMode;
  embeddedPostgresPort: number;
  /** How long one attempt of an export job may run before pg-boss fails it and retries (crash recovery). */
  exportTimeoutSeconds: number;
  /** Attempts of an export job (the first run included) before it is marked failed. */
  exportAttempts: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** "900", "15m", "12h" or "30d", in seconds. */
export function parseDuration(raw: string): number | null {
  const match = /^(\d+)\s*([smhd]?)$/i.exec(raw);
  if (!match) return null;
  return Number(match[1]) * (UNITS[(match[2] || 's').toLowerCase()] ?? 1);
}

function duration(env: Env, name: string, fallback: string): number {
  const raw = read(env, name) ?? fallback;
  const seconds = parseDuration(raw);
  if (seconds === null || seconds <= 0) throw new ConfigError(`${name} must be a positive duration like 900, 15m, 12h or 30d, got "${raw}"`);
  return seconds;
}

/** "1048576", "512M", "20G": bytes. */
function size(env: Env, name: string, fallback: string): number {
  const raw = read(env, name) ?? fallback;
  const match = /^(\d+)\s*([kmgt]?)i?b?$/i.exec(raw);
  if (!match) throw new ConfigError(`${name} must be a size like 1048576, 512M or 20G, got "${raw}"`);
  return Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

// A 5-field cron line (every 15 minutes: "*/15 * * * *"); pg-boss checks the rest when it schedules.
function cron(env: Env, name: string, fallback: string): string {
  const raw = read(env, name) ?? fallback;
  if (!/^[\d*/,-]+( [\d*/,-]+){4}$/.test(raw)) throw new ConfigError(`${name} must be a 5-field cron line like "*/15 * * * *", got "${raw}"`);
  return raw;
}

function cronOrOff(env: Env, name: string, fallback: string): string | null {
  return read(env, name)?.toLowerCase() === 'off' ? null : cron(env, name, fallback);
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function address(env: Env, name: string): { host: string; port: number } | null {
  const raw = read(env, name);
  if (raw === undefined || raw === 'off') return null;
  const match = /^(.*):(\d+)$/.exec(raw);
  const port = Number(match?.[2]);
  if (!match || !match[1] || port > 65535) throw new ConfigError(`${name} must be host:port (or "off"), got "${raw}"`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function databaseUrl(env: Env): string | null {
  const raw = read(env, 'DATABASE_URL');
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL is not a valid URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = resolve(read(env, 'CUSTODIA_DATA_DIR') ?? './data');
  const tokenTtlSeconds = duration(env, 'CUSTODIA_TOKEN_TTL', '12h');
  const tokenIdleSeconds = duration(env, 'CUSTODIA_TOKEN_IDLE_TTL', '30m');
  if (tokenIdleSeconds > tokenTtlSeconds) throw new ConfigError('CUSTODIA_TOKEN_IDLE_TTL must not exceed CUSTODIA_TOKEN_TTL');
  const instanceId = read(env, 'CUSTODIA_INSTANCE_ID') ?? 'custodia';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(instanceId)) throw new ConfigError('CUSTODIA_INSTANCE_ID may hold letters, digits, ".", "_" and "-" (1 to 64)');
  const signingKeyName = read(env, 'CUSTODIA_SIGNING_KEY_NAME') ?? `custodia-${instanceId}`;
  if (!/^[\x21-\x7e]{1,64}$/.test(signingKeyName) || signingKeyName.includes('+')) {
    throw new ConfigError('CUSTODIA_SIGNING_KEY_NAME must be printable ASCII without spaces or "+"');
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: read(env, 'HOST') ?? '127.0.0.1',
    dataDir,
    databaseUrl: databaseUrl(env),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    instanceId,
    organization: read(env, 'CUSTODIA_ORGANIZATION') ?? 'Custodia',
    trustProxy: boolean(env, 'CUSTODIA_TRUST_PROXY', false),
    tokenTtlSeconds,
    tokenIdleSeconds,
    masterKey: read(env, 'CUSTODIA_MASTER_KEY') ?? null,
    masterKeyFile: resolve(dataDir, read(env, 'CUSTODIA_MASTER_KEY_FILE') ?? 'keys/master.key'),
    previousMasterKeys: (read(env, 'CUSTODIA_PREVIOUS_MASTER_KEYS') ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    signingKey: read(env, 'CUSTODIA_SIGNING_KEY')?.replace(/\\n/g, '\n') ?? null,
    signingKeyFile: resolve(dataDir, read(env, 'CUSTODIA_SIGNING_KEY_FILE') ?? 'keys/signing-key.pem'),
    signingKeyName,
    loginAccountMaxFailures: integer(env, 'CUSTODIA_LOGIN_MAX_FAILURES', 10, 1, 1_000_000),
    loginAccountWindowSeconds: duration(env, 'CUSTODIA_LOGIN_FAILURE_WINDOW', '15m'),
    loginAddressMaxAttempts: integer(env, 'CUSTODIA_LOGIN_MAX_ATTEMPTS_PER_ADDRESS', 30, 1, 1_000_000),
    loginAddressWindowSeconds: duration(env, 'CUSTODIA_LOGIN_ADDRESS_WINDOW', '1m'),
    metricsAddress: address(env, 'CUSTODIA_METRICS_ADDRESS'),
    maxUploadBytes: size(env, 'CUSTODIA_MAX_UPLOAD_BYTES', '50G'),
    uploadTtlSeconds: duration(env, 'CUSTODIA_UPLOAD_TTL', '7d'),
    directIo: boolean(env, 'CUSTODIA_DIRECT_IO', true),
    uploadExpirySchedule: cron(env, 'CUSTODIA_UPLOAD_EXPIRY_SCHEDULE', '*/15 * * * *'),
    integrityCheckSchedule: cronOrOff(env, 'CUSTODIA_CHECK_SCHEDULE', '17 3 * * 0'),
    workers: oneOf(env, 'CUSTODIA_WORKERS', ['inline', 'external'] as const, 'inline'),
    embeddedPostgresPort: integer(env, 'CUSTODIA_EMBEDDED_PG_PORT', 5433, 1, 65535),
    exportTimeoutSeconds: Math.min(duration(env, 'CUSTODIA_EXPORT_TIMEOUT', '6h'), 23 * 3600),
    exportAttempts: integer(env, 'CUSTODIA_EXPORT_ATTEMPTS', 4, 1, 100),
  };
}
