/** A custody log entry, its canonical encoding and its leaf hash. */
import { Buffer } from 'node:buffer';
import { canonicalize } from './canonical-json.ts';
import type { JsonObject } from './canonical-json.ts';
import { leafHash } from './merkle.ts';

export type CustodyEntry = {
  v: 1;
  caseId: string;
  seq: number;
  evidenceId: string;
  /** 64 lowercase hex digits. */
  evidenceSha256: string;
  /** collected, accessed, reviewed, metadata_changed, retracted, exported, or a manual action. */
  action: string;
  /** null when no person caused the entry. */
  actorId: string | null;
  /** RFC 3339 UTC timestamp as Date.prototype.toISOString writes it. */
  at: string;
  details: JsonObject;
};

export class CustodyEntryError extends TypeError {
  override name = 'CustodyEntryError';
}

const ENTRY_KEYS = ['v', 'caseId', 'seq', 'evidenceId', 'evidenceSha256', 'action', 'actorId', 'at', 'details'];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function isNonEmptyString(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Throws a CustodyEntryError naming the first field that is not as CustodyEntry requires. */
export function assertCustodyEntry(value: unknown): asserts value is CustodyEntry {
  const fail = (what: string): never => {
    throw new CustodyEntryError(`custody entry: ${what}`);
  };
  if (!isPlainObject(value)) return fail('not an object');
  const extra = Object.keys(value).find((k) => !ENTRY_KEYS.includes(k));
  if (extra !== undefined) fail(`unexpected field ${JSON.stringify(extra)}`);
  if (value.v !== 1) fail('v must be 1');
  if (!isNonEmptyString(value.caseId)) fail('caseId must be a non-empty string');
  if (typeof value.seq !== 'number' || !Number.isSafeInteger(value.seq) || value.seq < 0) {
    fail('seq must be a non-negative integer');
  }
  if (!isNonEmptyString(value.evidenceId)) fail('evidenceId must be a non-empty string');
  if (typeof value.evidenceSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(value.evidenceSha256)) {
    fail('evidenceSha256 must be 64 lowercase hex digits');
  }
  if (!isNonEmptyString(value.action)) fail('action must be a non-empty string');
  if (value.actorId !== null && !isNonEmptyString(value.actorId)) fail('actorId must be a non-empty string or null');
  if (typeof value.at !== 'string' || !ISO_UTC.test(value.at) || Number.isNaN(Date.parse(value.at))) fail('at must be an ISO 8601 UTC timestamp');
  if (!isPlainObject(value.details)) fail('details must be a JSON object');
}

/** The canonical (RFC 8785) UTF-8 bytes of a validated entry. */
export function encodeEntry(entry: CustodyEntry): Buffer {
  assertCustodyEntry(entry);
  return Buffer.from(canonicalize(entry), 'utf8');
}

export function entryLeafHash(entry: CustodyEntry): Buffer {
  return leafHash(encodeEntry(entry));
}
