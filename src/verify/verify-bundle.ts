// The offline verifier of an exported case file (`custodia verify <bundle.zip> [--key <pem>]`).
// No network, no database: the zip, the BagIt manifests, the signatures and the custody log
// proofs (src/custody) are all it looks at. Every check runs; the report lists them in a fixed
// order and the first one that fails is the answer.
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { canonicalize, parseCheckpoint, publicKeyRaw, verifyBundleLine, verifyCheckpoint, verifyInclusion } from '../custody/index.ts';
import type { Checkpoint, CustodyEntry } from '../custody/index.ts';
import { verify as verifySignature } from '../crypto/signing-key.ts';
import {
  BAG_INFO_TXT,
  BAGIT_TXT,
  CHECKPOINT_BODY,
  CHECKPOINT_SIG,
  CHECKPOINT_TXT,
  CUSTODY_LOG,
  EVIDENCE_DIR,
  MANIFEST_JSON,
  MANIFEST_SIG,
  MANIFEST_TXT,
  PAYLOAD_DIR,
  PUBLIC_KEY_PEM,
  ROOT_FILES,
  TAG_FILES,
  TAGMANIFEST_TXT,
} from '../modules/exports/bundle/layout.ts';
import { ZipArchive, ZipStructureError } from './zip-archive.ts';

export const CHECKS = [
  ['zip', 'zip structure'],
  ['layout', 'bag layout'],
  ['bagit', 'bagit.txt'],
  ['publicKey', 'bundled public key'],
  ['trustedKey', 'trusted key (--key)'],
  ['manifestSignature', 'manifest signature'],
  ['payloadManifest', 'payload manifest (manifest-sha256.txt)'],
  ['tagManifest', 'tag manifest (tagmanifest-sha256.txt)'],
  ['oxum', 'Payload-Oxum'],
  ['manifestJson', 'data/manifest.json'],
  ['bagInfo', 'bag-info.txt'],
  ['checkpoint', 'custody checkpoint'],
  ['custodyLog', 'custody log and inclusion proofs'],
  ['evidence', 'evidence files against the custody log'],
] as const;

export type CheckId = (typeof CHECKS)[number][0];
export type CheckResult = { id: CheckId; title: string; status: 'ok' | 'failed' | 'skipped'; summary: string; problems: string[] };

export type BundleFacts = {
  exportId?: string;
  caseReference?: string;
  caseId?: string;
  redaction?: string;
  createdAt?: string;
  createdBy?: string;
  payloadFiles?: number;
  payloadBytes?: number;
  evidenceFiles?: number;
  logEntries?: number;
  checkpointOrigin?: string;
  checkpointSize?: number;
  keyName?: string;
  keyFingerprint?: string;
};

export type VerificationReport = {
  ok: boolean;
  path: string;
  checks: CheckResult[];
  /** The first check that failed, with its first problem. */
  firstFailure: { check: string; problem: string } | null;
  facts: BundleFacts;
};

export type VerifyOptions = {
  /** A PEM public key the user trusts (the organisation's published key). */
  trustedKeyPem?: string;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
};

const MAX_TAG_FILE_BYTES = 64 * 1024 * 1024;
const MAX_SMALL_FILE_BYTES = 1024 * 1024;
const MAX_MANIFEST_JSON_BYTES = 256 * 1024 * 1024;
const MAX_LOG_LINE_BYTES = 1024 * 1024;
const MAX_PROBLEMS = 20;
const BAG_INFO_LABELS = [
  'Source-Organization',
  'Bagging-Date',
  'External-Identifier',
  'Payload-Oxum',
  'Custodia-Case-Reference',
  'Custodia-Export-Scope',
  'Custodia-Redaction',
  'Custodia-Exported-By',
];

type FileFacts = { sha256: string; size: number };

class Checks {
  private readonly results = new Map<CheckId, CheckResult>();

  constructor() {
    for (const [id, title] of CHECKS) this.results.set(id, { id, title, status: 'skipped', summary: '', problems: [] });
  }

  problem(id: CheckId, message: string): void {
    const result = this.results.get(id)!;
    result.status = 'failed';
    if (result.problems.length < MAX_PROBLEMS) result.problems.push(message);
    else if (result.problems.length === MAX_PROBLEMS) result.problems.push('… more problems not shown');
  }

  /** Marks a check as run; it stays failed if a problem was recorded. */
  done(id: CheckId, summary: string): void {
    const result = this.results.get(id)!;
    if (result.status === 'skipped') result.status = 'ok';
    result.summary = summary;
  }

  skip(id: CheckId, why: string): void {
    const result = this.results.get(id)!;
    if (result.status === 'skipped') result.summary = why;
  }

  failed(id: CheckId): boolean {
    return this.results.get(id)!.status === 'failed';
  }

  list(): CheckResult[] {
    return [...this.results.values()];
  }
}

function report(path: string, checks: Checks, facts: BundleFacts): VerificationReport {
  const list = checks.list();
  const first = list.find((c) => c.status === 'failed');
  return {
    ok: first === undefined,
    path,
    checks: list,
    firstFailure: first === undefined ? null : { check: first.title, problem: first.problems[0] ?? 'failed' },
    facts,
  };
}

const sha256Hex = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const fingerprint = (key: KeyObject): string => sha256Hex(key.export({ format: 'der', type: 'spki' }));

function parseEd25519PublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 key (${key.asymmetricKeyType ?? 'unknown type'})`);
  return key;
}

/** `<hash>  <path>` lines (RFC 8493 §2.1.3: one or more spaces; %0A, %0D and %25 decoded). */
function parseManifest(text: string, what: string, problem: (m: string) => void): Map<string, string> {
  const lines = new Map<string, string>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '' && index === text.split('\n').length - 1) continue;
    const match = /^([0-9a-fA-F]{64})[ \t]+\*?(.+?)\r?$/.exec(line);
    if (match === null) {
      problem(`${what} line ${index + 1} is not "<sha256>  <path>"`);
      continue;
    }
    const path = match[2]!.replace(/%0A|%0D|%25/gi, (code) => decodeURIComponent(code));
    if (lines.has(path)) problem(`${what} lists ${path} twice`);
    lines.set(path, match[1]!.toLowerCase());
  }
  return lines;
}

function parseBagInfo(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && last !== undefined) {
      const values = fields.get(last)!;
      values[values.length - 1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim();
    fields.set(last, [...(fields.get(last) ?? []), line.slice(colon + 1).trim()]);
  }
  return fields;
}

type ManifestJson = {
  case: { id: string; reference: string };
  export: { id: string; createdAt: string; createdBy: string; scope: unknown; redaction: string; serviceVersion: string };
  files: { path: string; sizeBytes: number; sha256: string }[];
};

function manifestJsonShape(value: unknown): string | null {
  const v = value as Record<string, Record<string, unknown> | undefined> | null;
  if (typeof v !== 'object' || v === null) return 'is not a JSON object';
  if (typeof v.case?.id !== 'string' || typeof v.case.reference !== 'string') return 'has no case {id, reference}';
  const e = v.export;
  if (typeof e !== 'object' || e === null) return 'has no export object';
  for (const field of ['id', 'createdAt', 'createdBy', 'redaction', 'serviceVersion']) {
    if (typeof e[field] !== 'string') return `export.${field} is not a string`;
  }
  if (typeof e.scope !== 'object' || e.scope === null) return 'export.scope is not an object';
  if (typeof v.counts !== 'object' || v.counts === null) return 'has no counts object';
  const files = (value as { files?: unknown }).files;
  if (!Array.isArray(files)) return 'has no files array';
  for (const f of files as Record<string, unknown>[]) {
    if (typeof f !== 'object' || f === null || typeof f.path !== 'string' || !Number.isSafeInteger(f.sizeBytes) || typeof f.sha256 !== 'string') {
      return 'files[] must be {path, sizeBytes, sha256}';
    }
  }
  return null;
}

/** Hashes a stream and, for the custody log, hands each line over as it passes. */
class Digest extends Writable {
  readonly hash = createHash('sha256');
  size = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly onBytes: (n: number) => void,
    private readonly onLine?: (line: Buffer) => void,
  ) {
    super({ highWaterMark: MAX_SMALL_FILE_BYTES });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.onBytes(chunk.length);
    if (this.onLine !== undefined) {
      try {
        this.splitLines(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.onLine !== undefined && this.pendingBytes > 0) this.onLine(Buffer.concat(this.pending));
    callback();
  }

  private splitLines(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      this.pending.push(chunk.subarray(start, nl));
      this.onLine!(Buffer.concat(this.pending));
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > MAX_LOG_LINE_BYTES) throw new Error(`a line of ${CUSTODY_LOG} is longer than ${MAX_LOG_LINE_BYTES} bytes`);
    }
  }
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/** Why a withheld line's leaf hash is not proven in the checkpoint's tree, or null. */
function withheldLineProblem(line: Record<string, unknown>, checkpoint: { size: number; rootHash: Uint8Array }): string | null {
  const { seq, leafHash, inclusionProof } = line;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'bad seq';
  if (typeof leafHash !== 'string' || !HEX_HASH.test(leafHash)) return 'bad leafHash';
  if (!Array.isArray(inclusionProof) || !inclusionProof.every((h) => typeof h === 'string' && HEX_HASH.test(h))) return 'bad inclusionProof';
  const proof = inclusionProof.map((h: string) => Buffer.from(h, 'hex'));
  if (!verifyInclusion(seq, checkpoint.size, Buffer.from(leafHash, 'hex'), proof, checkpoint.rootHash)) return `withheld entry ${seq} is not included in the checkpoint's tree`;
  return null;
}

type LogState = {
  lines: number;
  lastSeq: number;
  /** Lines whose entry the redaction kept back. */
  withheld: number;
  /** evidenceId → the evidenceSha256 values of its entries, and whether this export's `exported` entry is there. */
  byEvidence: Map<string, { hashes: Set<string>; exported: boolean }>;
};

export async function verifyBundle(path: string, options: VerifyOptions = {}): Promise<VerificationReport> {
  const checks = new Checks();
  const facts: BundleFacts = {};

  let zip: ZipArchive;
  try {
    zip = await ZipArchive.open(path);
  } catch (error) {
    checks.problem('zip', error instanceof ZipStructureError ? error.message : `cannot read the file: ${(error as Error).message}`);
    for (const [id] of CHECKS) checks.skip(id, 'not checked: the zip is unsound');
    return report(path, checks, facts);
  }
  try {
    return await verifyOpenBundle(zip, checks, facts, options);
  } finally {
    zip.close();
  }
}

async function verifyOpenBundle(zip: ZipArchive, checks: Checks, facts: BundleFacts, options: VerifyOptions): Promise<VerificationReport> {
  const files = new Map(zip.items.filter((i) => !i.isDirectory).map((i) => [i.name, i]));
  const payloadItems = [...files.values()].filter((i) => i.name.startsWith(PAYLOAD_DIR));

  // Layout: the bag's files at the zip's root, nothing else beside data/.
  const required = [...ROOT_FILES, MANIFEST_JSON, CHECKPOINT_TXT, CHECKPOINT_BODY, CHECKPOINT_SIG, PUBLIC_KEY_PEM, CUSTODY_LOG];
  const nested = [...files.keys()].find((name) => name.endsWith(`/${BAGIT_TXT}`));
  if (!files.has(BAGIT_TXT) && nested !== undefined) {
    checks.problem('layout', `the zip's root is not a bag: found ${nested} inside a folder`);
  }
  for (const name of required) if (!files.has(name)) checks.problem('layout', `${name} is missing`);
  for (const name of files.keys()) {
    if (!name.startsWith(PAYLOAD_DIR) && !ROOT_FILES.includes(name)) checks.problem('layout', `${name}: unexpected file outside data/`);
  }
  checks.done('layout', `${files.size} files, ${payloadItems.length} of them under data/`);

  // The small files, read first (with a size cap) and hashed from the same bytes.
  const contents = new Map<string, Buffer>();
  const caps: [string, number][] = [
    [BAGIT_TXT, MAX_SMALL_FILE_BYTES],
    [BAG_INFO_TXT, MAX_SMALL_FILE_BYTES],
    [MANIFEST_TXT, MAX_TAG_FILE_BYTES],
    [MANIFEST_SIG, MAX_SMALL_FILE_BYTES],
    [TAGMANIFEST_TXT, MAX_SMALL_FILE_BYTES],
    [MANIFEST_JSON, MAX_MANIFEST_JSON_BYTES],
    [CHECKPOINT_TXT, MAX_SMALL_FILE_BYTES],
    [CHECKPOINT_BODY, MAX_SMALL_FILE_BYTES],
    [CHECKPOINT_SIG, MAX_SMALL_FILE_BYTES],
    [PUBLIC_KEY_PEM, MAX_SMALL_FILE_BYTES],
  ];
  const hashed = new Map<string, FileFacts>();
  for (const [name, cap] of caps) {
    const item = files.get(name);
    if (item === undefined) continue;
    try {
      const bytes = await zip.read(item, cap);
      contents.set(name, bytes);
      hashed.set(name, { sha256: sha256Hex(bytes), size: bytes.length });
    } catch (error) {
      if (error instanceof ZipStructureError) checks.problem('zip', error.message);
      else checks.problem('layout', `${name}: ${(error as Error).message}`);
    }
  }
  const text = (name: string): string | undefined => contents.get(name)?.toString('utf8');

  // Keys.
  let bundledKey: KeyObject | undefined;
  const pem = text(PUBLIC_KEY_PEM);
  if (pem === undefined) checks.skip('publicKey', `not checked: no ${PUBLIC_KEY_PEM}`);
  else {
    try {
      bundledKey = parseEd25519PublicKey(pem);
      facts.keyFingerprint = fingerprint(bundledKey);
      checks.done('publicKey', `Ed25519, SHA-256 fingerprint ${facts.keyFingerprint}`);
    } catch (error) {
      checks.problem('publicKey', `${PUBLIC_KEY_PEM} is not an Ed25519 public key: ${(error as Error).message}`);
    }
  }
  let trustedKey: KeyObject | undefined;
  if (options.trustedKeyPem === undefined) checks.skip('trustedKey', 'not checked: no --key given (the bundled key only proves consistency)');
  else {
    try {
      trustedKey = parseEd25519PublicKey(options.trustedKeyPem);
      if (bundledKey !== undefined && !publicKeyRaw(bundledKey).equals(publicKeyRaw(trustedKey))) {
        checks.problem('trustedKey', `the bundled public key (${fingerprint(bundledKey)}) is not the trusted key (${fingerprint(trustedKey)})`);
      }
      checks.done('trustedKey', `the bundled key is the trusted key ${fingerprint(trustedKey)}`);
    } catch (error) {
      checks.problem('trustedKey', `the --key file is not an Ed25519 public key: ${(error as Error).message}`);
    }
  }
  const signerKeys = [bundledKey, trustedKey].filter((k): k is KeyObject => k !== undefined);

  // The manifest's signature: one line of openssl proves the whole payload.
  const manifest = contents.get(MANIFEST_TXT);
  const manifestSig = contents.get(MANIFEST_SIG);
  if (manifest === undefined || manifestSig === undefined || bundledKey === undefined) {
    checks.skip('manifestSignature', 'not checked: manifest, signature or key missing');
  } else {
    if (manifestSig.length !== 64) checks.problem('manifestSignature', `${MANIFEST_SIG} is ${manifestSig.length} bytes, not a 64-byte Ed25519 signature`);
    else {
      for (const key of signerKeys) {
        if (!verifySignature(manifest, manifestSig, key)) {
          checks.problem(
            'manifestSignature',
            `${MANIFEST_SIG} does not verify with the ${key === trustedKey ? 'trusted' : 'bundled'} key: ${MANIFEST_TXT} was changed after it was signed, or signed by another key`,
          );
        }
      }
    }
    checks.done('manifestSignature', `Ed25519 signature of ${MANIFEST_TXT} verifies${trustedKey ? ' with the trusted key' : ''}`);
  }

  // One streaming pass over everything not read yet, in zip order.
  const checkpointText = text(CHECKPOINT_TXT);
  let checkpoint: Checkpoint | undefined;
  if (checkpointText !== undefined) {
    try {
      checkpoint = parseCheckpoint(checkpointText);
    } catch (error) {
      checks.problem('checkpoint', `${CHECKPOINT_TXT}: ${(error as Error).message}`);
    }
  }
  let manifestJson: ManifestJson | undefined;
  const manifestJsonText = text(MANIFEST_JSON);
  if (manifestJsonText !== undefined) {
    try {
      const parsed: unknown = JSON.parse(manifestJsonText);
      const shape = manifestJsonShape(parsed);
      if (shape === null) manifestJson = parsed as ManifestJson;
      else checks.problem('manifestJson', `${MANIFEST_JSON} ${shape}`);
    } catch (error) {
      checks.problem('manifestJson', `${MANIFEST_JSON} is not JSON: ${(error as Error).message}`);
    }
  }
  if (manifestJson !== undefined) {
    facts.exportId = manifestJson.export.id;
    facts.caseId = manifestJson.case.id;
    facts.caseReference = manifestJson.case.reference;
    facts.redaction = manifestJson.export.redaction;
    facts.createdAt = manifestJson.export.createdAt;
    facts.createdBy = manifestJson.export.createdBy;
  }

  const log: LogState = { lines: 0, lastSeq: -1, withheld: 0, byEvidence: new Map() };
  const onLogLine = (raw: Buffer): void => {
    const number = ++log.lines;
    let line: unknown;
    try {
      line = JSON.parse(raw.toString('utf8'));
    } catch {
      checks.problem('custodyLog', `${CUSTODY_LOG} line ${number} is not JSON`);
      return;
    }
    const seq = (line as { seq?: unknown }).seq;
    const where = `${CUSTODY_LOG} line ${number} (seq ${String(seq)})`;
    const entry = (line as { entry?: CustodyEntry }).entry;
    const withheld = (line as { withheld?: unknown }).withheld;
    if (entry === undefined && withheld !== undefined) {
      // An entry kept back by the redaction: only its place in the tree can be checked.
      if (typeof withheld !== 'string' || typeof seq !== 'number') {
        checks.problem('custodyLog', `${where}: not {seq, withheld, leafHash, inclusionProof}`);
        return;
      }
      if (checkpoint !== undefined) {
        const reason = withheldLineProblem(line as Record<string, unknown>, checkpoint);
        if (reason !== null) {
          checks.problem('custodyLog', `${where}: ${reason}`);
          return;
        }
      }
      if (seq <= log.lastSeq) checks.problem('custodyLog', `${where}: seq is not after the previous line's ${log.lastSeq}`);
      log.lastSeq = Math.max(log.lastSeq, seq);
      log.withheld++;
      return;
    }
    if (checkpoint !== undefined) {
      const result = verifyBundleLine(line, checkpoint);
      if (!result.ok) {
        checks.problem('custodyLog', `${where}: ${result.reason}`);
        return;
      }
    }
    if (typeof seq !== 'number' || typeof entry !== 'object' || entry === null) {
      checks.problem('custodyLog', `${where}: not {seq, entry, leafHash, inclusionProof}`);
      return;
    }
    if (seq <= log.lastSeq) checks.problem('custodyLog', `${where}: seq is not after the previous line's ${log.lastSeq}`);
    log.lastSeq = Math.max(log.lastSeq, seq);
    if (manifestJson !== undefined && entry.caseId !== manifestJson.case.id) checks.problem('custodyLog', `${where}: entry of another case`);
    const evidence = log.byEvidence.get(entry.evidenceId) ?? { hashes: new Set<string>(), exported: false };
    evidence.hashes.add(entry.evidenceSha256);
    const exportId = (entry.details as { exportId?: unknown } | undefined)?.exportId;
    if (entry.action === 'exported' && manifestJson !== undefined && exportId === manifestJson.export.id) evidence.exported = true;
    log.byEvidence.set(entry.evidenceId, evidence);
  };

  const toStream = [...files.values()].filter((item) => !contents.has(item.name));
  const total = [...files.values()].reduce((sum, item) => sum + item.size, 0);
  let done = [...contents.values()].reduce((sum, bytes) => sum + bytes.length, 0);
  options.onProgress?.(done, total);
  for (const item of toStream) {
    try {
      const digest = new Digest(
        (n) => {
          done += n;
          options.onProgress?.(done, total);
        },
        item.name === CUSTODY_LOG ? onLogLine : undefined,
      );
      await pipeline(await zip.openStream(item), digest);
      hashed.set(item.name, { sha256: digest.hash.digest('hex'), size: digest.size });
    } catch (error) {
      if (error instanceof ZipStructureError) checks.problem('zip', error.message);
      else checks.problem('payloadManifest', `${item.name}: cannot be read: ${(error as Error).message}`);
    }
  }
  checks.done('zip', `${zip.items.length} entries, ${zip.sizeBytes} bytes; no unsafe, duplicate or ambiguous names`);

  // bagit.txt
  const bagit = text(BAGIT_TXT);
  if (bagit === undefined) checks.skip('bagit', 'not checked: missing');
  else if (!/^BagIt-Version: 1\.0\r?\nTag-File-Character-Encoding: UTF-8\r?\n?$/.test(bagit)) {
    checks.problem('bagit', `${BAGIT_TXT} does not declare BagIt-Version 1.0 and UTF-8`);
  } else checks.done('bagit', 'BagIt 1.0, UTF-8');

  // Payload manifest: every file under data/ listed, every listed file present, every hash equal.
  const payloadSizes = { files: 0, bytes: 0 };
  if (manifest === undefined) checks.skip('payloadManifest', `not checked: no ${MANIFEST_TXT}`);
  else {
    const listed = parseManifest(manifest.toString('utf8'), MANIFEST_TXT, (m) => checks.problem('payloadManifest', m));
    for (const [name, expected] of listed) {
      if (!name.startsWith(PAYLOAD_DIR)) checks.problem('payloadManifest', `${name}: listed in ${MANIFEST_TXT} but not under data/`);
      const actual = hashed.get(name);
      if (!files.has(name)) checks.problem('payloadManifest', `${name}: listed in ${MANIFEST_TXT} but missing from the bag`);
      else if (actual !== undefined && actual.sha256 !== expected) {
        checks.problem('payloadManifest', `${name}: SHA-256 is ${actual.sha256}, ${MANIFEST_TXT} says ${expected}`);
      }
    }
    for (const item of payloadItems) {
      if (!listed.has(item.name)) checks.problem('payloadManifest', `${item.name}: in the bag but not listed in ${MANIFEST_TXT}`);
    }
    checks.done('payloadManifest', `${listed.size} files, each with the SHA-256 the manifest lists`);
  }
  for (const item of payloadItems) {
    payloadSizes.files += 1;
    payloadSizes.bytes += hashed.get(item.name)?.size ?? item.size;
  }
  facts.payloadFiles = payloadSizes.files;
  facts.payloadBytes = payloadSizes.bytes;

  // Tag manifest.
  const tagManifest = text(TAGMANIFEST_TXT);
  if (tagManifest === undefined) checks.skip('tagManifest', `not checked: no ${TAGMANIFEST_TXT}`);
  else {
    const listed = parseManifest(tagManifest, TAGMANIFEST_TXT, (m) => checks.problem('tagManifest', m));
    for (const name of TAG_FILES) if (!listed.has(name)) checks.problem('tagManifest', `${TAGMANIFEST_TXT} does not list ${name}`);
    for (const [name, expected] of listed) {
      const actual = hashed.get(name);
      if (name.startsWith(PAYLOAD_DIR) || name === TAGMANIFEST_TXT) checks.problem('tagManifest', `${name}: is not a tag file`);
      else if (actual === undefined) checks.problem('tagManifest', `${name}: listed in ${TAGMANIFEST_TXT} but missing`);
      else if (actual.sha256 !== expected) checks.problem('tagManifest', `${name}: SHA-256 is ${actual.sha256}, ${TAGMANIFEST_TXT} says ${expected}`);
    }
    checks.done('tagManifest', `${listed.size} tag files match`);
  }

  // bag-info.txt: Payload-Oxum, then the fields that must say what data/manifest.json says.
  const bagInfo = text(BAG_INFO_TXT) === undefined ? undefined : parseBagInfo(text(BAG_INFO_TXT)!);
  if (bagInfo === undefined) {
    checks.skip('oxum', `not checked: no ${BAG_INFO_TXT}`);
    checks.skip('bagInfo', `not checked: no ${BAG_INFO_TXT}`);
  } else {
    const oxum = bagInfo.get('Payload-Oxum');
    const actual = `${payloadSizes.bytes}.${payloadSizes.files}`;
    if (oxum?.length !== 1) checks.problem('oxum', `${BAG_INFO_TXT} must have one Payload-Oxum`);
    else if (oxum[0] !== actual) checks.problem('oxum', `Payload-Oxum says ${oxum[0]}, the payload is ${actual} (bytes.files)`);
    checks.done('oxum', `${actual} (bytes.files)`);
  }

  // data/manifest.json against the files.
  if (manifestJson === undefined) checks.skip('manifestJson', `not checked: no readable ${MANIFEST_JSON}`);
  else {
    const listed = new Map<string, { sizeBytes: number; sha256: string }>();
    for (const f of manifestJson.files) {
      if (listed.has(f.path)) checks.problem('manifestJson', `${MANIFEST_JSON} lists ${f.path} twice`);
      listed.set(f.path, f);
      const actual = hashed.get(f.path);
      if (f.path === MANIFEST_JSON) checks.problem('manifestJson', `${MANIFEST_JSON} lists itself`);
      else if (actual === undefined) checks.problem('manifestJson', `${f.path}: listed in ${MANIFEST_JSON} but missing from the bag`);
      else if (actual.sha256 !== f.sha256.toLowerCase() || actual.size !== f.sizeBytes) {
        checks.problem('manifestJson', `${f.path}: ${MANIFEST_JSON} says ${f.sizeBytes} bytes, SHA-256 ${f.sha256}; the file has ${actual.size} bytes, SHA-256 ${actual.sha256}`);
      }
    }
    for (const item of payloadItems) {
      if (item.name !== MANIFEST_JSON && !listed.has(item.name)) checks.problem('manifestJson', `${item.name}: in the bag but not listed in ${MANIFEST_JSON}`);
    }
    checks.done('manifestJson', `${listed.size} files listed with their size and SHA-256`);
  }
  if (bagInfo !== undefined) {
    for (const label of BAG_INFO_LABELS) {
      const values = bagInfo.get(label);
      if (values?.length !== 1) checks.problem('bagInfo', `${BAG_INFO_TXT} must have exactly one ${label}`);
    }
    if (manifestJson !== undefined) {
      const one = (label: string): string | undefined => bagInfo.get(label)?.[0];
      const expected: [string, string][] = [
        ['External-Identifier', manifestJson.export.id],
        ['Custodia-Case-Reference', manifestJson.case.reference],
        ['Custodia-Redaction', manifestJson.export.redaction],
        ['Custodia-Exported-By', manifestJson.export.createdBy],
        ['Bagging-Date', manifestJson.export.createdAt.slice(0, 10)],
      ];
      for (const [label, value] of expected) {
        if (one(label) !== undefined && one(label) !== value) checks.problem('bagInfo', `${label} says ${one(label)}, ${MANIFEST_JSON} says ${value}`);
      }
      const scope = one('Custodia-Export-Scope');
      if (scope !== undefined) {
        let same = false;
        try {
          same = canonicalize(JSON.parse(scope)) === canonicalize(manifestJson.export.scope);
        } catch {
          same = false;
        }
        if (!same) checks.problem('bagInfo', `Custodia-Export-Scope differs from the scope in ${MANIFEST_JSON}`);
      }
    } else checks.problem('bagInfo', `cannot be compared with ${MANIFEST_JSON}`);
    checks.done('bagInfo', `every field present and equal to ${MANIFEST_JSON}`);
  }

  // The checkpoint: signed note, its body and raw signature as separate files, its origin.
  if (checkpoint === undefined || checkpointText === undefined) checks.skip('checkpoint', `not checked: no readable ${CHECKPOINT_TXT}`);
  else {
    facts.checkpointOrigin = checkpoint.origin;
    facts.checkpointSize = checkpoint.size;
    for (const key of signerKeys) {
      if (!verifyCheckpoint(checkpointText, key)) {
        checks.problem('checkpoint', `${CHECKPOINT_TXT} has no valid signature by the ${key === trustedKey ? 'trusted' : 'bundled'} key`);
      } else facts.keyName = checkpoint.signatures.find((s) => verifyCheckpoint(checkpointText, key, s.name))?.name;
    }
    const body = contents.get(CHECKPOINT_BODY);
    const sig = contents.get(CHECKPOINT_SIG);
    if (body === undefined || body.toString('utf8') !== checkpoint.body) checks.problem('checkpoint', `${CHECKPOINT_BODY} is not the signed part of ${CHECKPOINT_TXT}`);
    if (body !== undefined && sig !== undefined) {
      for (const key of signerKeys) {
        if (!verifySignature(body, sig, key)) checks.problem('checkpoint', `${CHECKPOINT_SIG} does not verify ${CHECKPOINT_BODY} with the ${key === trustedKey ? 'trusted' : 'bundled'} key`);
      }
    }
    if (manifestJson !== undefined && !checkpoint.origin.endsWith(`/cases/${manifestJson.case.id}`)) {
      checks.problem('checkpoint', `checkpoint origin ${checkpoint.origin} is not the log of case ${manifestJson.case.id}`);
    }
    checks.done('checkpoint', `${checkpoint.origin}, size ${checkpoint.size}, signed by ${facts.keyName ?? 'the bundled key'}`);
  }

  // The custody log (checked line by line while it streamed past).
  facts.logEntries = log.lines;
  if (!files.has(CUSTODY_LOG)) checks.skip('custodyLog', `not checked: no ${CUSTODY_LOG}`);
  else {
    if (checkpoint === undefined) checks.problem('custodyLog', 'inclusion proofs cannot be checked without a checkpoint');
    if (log.lines === 0) checks.problem('custodyLog', `${CUSTODY_LOG} is empty`);
    const withheldNote = log.withheld > 0 ? ` (${log.withheld} withheld by the redaction: their leaf hashes only, each included in the tree)` : '';
    checks.done('custodyLog', `${log.lines} entries, each leaf hash recomputed and included in the checkpoint's tree${withheldNote}`);
  }

  // Evidence files against their custody entries.
  const evidenceItems = payloadItems.filter((i) => i.name.startsWith(EVIDENCE_DIR));
  facts.evidenceFiles = evidenceItems.length;
  const seenIds = new Set<string>();
  for (const item of evidenceItems) {
    const parts = item.name.slice(EVIDENCE_DIR.length).split('/');
    if (parts.length !== 2) {
      checks.problem('evidence', `${item.name}: evidence files must be ${EVIDENCE_DIR}<evidence id>/<file>`);
      continue;
    }
    const id = parts[0]!;
    if (seenIds.has(id)) checks.problem('evidence', `${EVIDENCE_DIR}${id}/ holds more than one file`);
    seenIds.add(id);
    const actual = hashed.get(item.name);
    const entries = log.byEvidence.get(id);
    if (entries === undefined) checks.problem('evidence', `${item.name}: no custody log entry for evidence ${id}`);
    else if (actual !== undefined) {
      for (const expected of entries.hashes) {
        if (expected !== actual.sha256) checks.problem('evidence', `${item.name}: SHA-256 is ${actual.sha256}, a custody entry of evidence ${id} records ${expected}`);
      }
      if (!entries.exported) checks.problem('evidence', `${item.name}: the custody log has no "exported" entry for this export`);
    }
  }
  for (const id of log.byEvidence.keys()) {
    if (!seenIds.has(id)) checks.problem('evidence', `evidence ${id} has custody entries but no file in ${EVIDENCE_DIR}`);
  }
  if (files.has(CUSTODY_LOG) || evidenceItems.length > 0) {
    checks.done('evidence', `${evidenceItems.length} files, each with the SHA-256 its custody entries record`);
  }
  return report(zip.path, checks, facts);
}
