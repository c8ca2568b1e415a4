// Writes an exported case file: a zip whose root is one BagIt bag (RFC 8493), streamed with
// yazl (zip64 when an entry or the archive needs it). Evidence bytes are stored as they are and
// re-hashed on their way into the zip; any difference from the recorded hash or size aborts the
// whole write. The zip is written to a temporary file beside its destination, synced, then
// renamed: a bundle is either complete under its name or absent.
import { createHash, randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, Writable } from 'node:stream';
import type { PassThrough, Readable, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import { parseCheckpoint, verifyCheckpoint } from '../../../custody/index.ts';
import type { CustodyEntry, JsonObject } from '../../../custody/index.ts';
import { sign } from '../../../crypto/index.ts';
import type { SigningKey } from '../../../crypto/index.ts';
import { evidenceCsv } from './evidence-csv.ts';
import type { EvidenceCsvRow } from './evidence-csv.ts';
import { useNativeCrc32ForYazl } from './fast-crc32.ts';
import {
  BAG_INFO_TXT,
  BAGIT_TXT,
  BAGIT_TXT_CONTENT,
  CHECKPOINT_BODY,
  CHECKPOINT_SIG,
  CHECKPOINT_TXT,
  CUSTODY_LOG,
  EVIDENCE_CSV,
  evidencePath,
  MANIFEST_JSON,
  MANIFEST_SIG,
  MANIFEST_TXT,
  PUBLIC_KEY_PEM,
  RECORD_KINDS,
  recordPath,
  TAGMANIFEST_TXT,
  VERIFY_MD,
} from './layout.ts';
import type { RecordKind } from './layout.ts';
import { safeFileName } from './safe-name.ts';
import { verifyInstructions } from './verify-instructions.ts';

useNativeCrc32ForYazl();

const CHUNK_BYTES = 1024 * 1024;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

export type Redaction = 'protect_witnesses' | 'full';

export type BundleEvidenceFile = {
  evidenceId: string;
  /** The name the file had when collected; made safe for the bundle. */
  originalName: string | null;
  /** The recorded SHA-256 (hex) and size: the bytes written must match both. */
  sha256: string;
  sizeBytes: number;
  /** Opens the stored bytes; called only when the zip reaches this file. */
  open: () => Promise<Readable>;
};

/**
 * One line of data/custody/log.jsonl: an entry and its inclusion proof against the checkpoint.
 * A withheld entry (it quotes something the redaction keeps back, such as a witness's name in a
 * file name) carries its leaf hash and proof but not its text, and says why.
 */
export type BundleLogLine =
  | { seq: number; entry: CustodyEntry; leafHash: string; inclusionProof: string[] }
  | { seq: number; withheld: string; leafHash: string; inclusionProof: string[] };

export type BundlePlan = {
  exportId: string;
  createdAt: Date;
  createdBy: string;
  scope: JsonObject;
  redaction: Redaction;
  serviceVersion: string;
  sourceOrganization: string;
  /** The case as data/manifest.json names it ({id, reference, title, …}). */
  case: { id: string; reference: string } & Record<string, unknown>;
  /** What was included and what was withheld, and why. */
  counts: Record<string, unknown>;
  records: Record<RecordKind, readonly unknown[]>;
  evidenceCsv: readonly EvidenceCsvRow[];
  evidenceFiles: readonly BundleEvidenceFile[];
  custody: { lines: readonly BundleLogLine[]; checkpoint: string };
};

export type BundleProgress = { bytesWritten: number; estimatedTotalBytes: number };

export type WriteBundleOptions = {
  /** Final path of the zip; its directory must exist. */
  path: string;
  signingKey: SigningKey;
  onProgress?: (progress: BundleProgress) => void;
  signal?: AbortSignal;
};

export type WrittenBundle = {
  path: string;
  bytes: number;
  /** SHA-256 (hex) of the whole zip. */
  sha256: string;
  payloadFiles: number;
  payloadBytes: number;
};

export class BundlePlanError extends Error {
  override name = 'BundlePlanError';
}

/** The stored bytes of an evidence item are not the ones its record (and custody log) describe. */
export class EvidenceIntegrityError extends Error {
  override name = 'EvidenceIntegrityError';
  constructor(
    readonly evidenceId: string,
    readonly expected: { sha256: string; sizeBytes: number },
    readonly actual: { sha256: string | null; sizeBytes: number },
  ) {
    super(
      actual.sha256 === null
        ? `evidence ${evidenceId}: stored bytes exceed the recorded size of ${expected.sizeBytes} bytes`
        : `evidence ${evidenceId}: stored bytes (sha256 ${actual.sha256}, ${actual.sizeBytes} bytes) differ from the recorded sha256 ${expected.sha256} (${expected.sizeBytes} bytes)`,
    );
  }
}

export function bundleEvidencePath(evidenceId: string, originalName: string | null): string {
  return evidencePath(evidenceId, safeFileName(originalName));
}

type PayloadFile = { path: string; sizeBytes: number; sha256: string };
type BufferEntry = { path: string; bytes: Buffer; compress: boolean };

const sha256Hex = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
const jsonFile = (value: unknown): Buffer => utf8(`${JSON.stringify(value, null, 2)}\n`);

// bag-info.txt values are single lines (RFC 8493 §2.2.2 allows folding; nothing here needs it).
const oneLine = (value: string): string => value.replace(/[\r\n]+/g, ' ').trim();

function assertPlan(plan: BundlePlan): void {
  const seen = new Set<string>();
  for (const file of plan.evidenceFiles) {
    if (!/^[A-Za-z0-9_-]+$/.test(file.evidenceId)) throw new BundlePlanError(`evidence id ${JSON.stringify(file.evidenceId)} is not a safe path segment`);
    if (seen.has(file.evidenceId)) throw new BundlePlanError(`evidence ${file.evidenceId} is planned twice`);
    seen.add(file.evidenceId);
    if (!HEX_SHA256.test(file.sha256)) throw new BundlePlanError(`evidence ${file.evidenceId}: sha256 must be 64 lowercase hex digits`);
    if (!Number.isSafeInteger(file.sizeBytes) || file.sizeBytes < 0) throw new BundlePlanError(`evidence ${file.evidenceId}: bad size`);
  }
}

/** The checkpoint's signature by `key`, which also signs the manifest. */
function checkpointSignature(checkpoint: string, key: SigningKey): { body: string; signature: Buffer } {
  if (!verifyCheckpoint(checkpoint, key.publicKey, key.name)) {
    throw new BundlePlanError('the checkpoint is not signed by the signing key');
  }
  const note = parseCheckpoint(checkpoint);
  const own = note.signatures.find((s) => s.name === key.name && s.keyId.toString('hex') === key.keyId);
  if (own === undefined) throw new BundlePlanError('the checkpoint has no signature line by the signing key');
  return { body: note.body, signature: Buffer.from(own.signature) };
}

/** Every file of the bag except the evidence, which is streamed. */
function bagFiles(plan: BundlePlan, key: SigningKey): { tag: BufferEntry[]; payload: BufferEntry[]; files: PayloadFile[] } {
  assertPlan(plan);
  const checkpoint = checkpointSignature(plan.custody.checkpoint, key);
  const createdAt = plan.createdAt.toISOString();
  const logLines = plan.custody.lines.map(
    (line) =>
      `${JSON.stringify(
        'entry' in line
          ? { seq: line.seq, entry: line.entry, leafHash: line.leafHash, inclusionProof: line.inclusionProof }
          : { seq: line.seq, withheld: line.withheld, leafHash: line.leafHash, inclusionProof: line.inclusionProof },
      )}\n`,
  );

  const payload: BufferEntry[] = [
    {
      path: VERIFY_MD,
      compress: true,
      bytes: utf8(
        verifyInstructions({
          exportId: plan.exportId,
          caseReference: plan.case.reference,
          createdAt,
          serviceVersion: plan.serviceVersion,
          keyName: key.name,
          keyId: key.keyId,
          publicKeyPem: key.publicKeyPem,
        }),
      ),
    },
    ...RECORD_KINDS.map((kind) => ({ path: recordPath(kind), compress: true, bytes: jsonFile(plan.records[kind]) })),
    { path: EVIDENCE_CSV, compress: true, bytes: utf8(evidenceCsv(plan.evidenceCsv)) },
    { path: PUBLIC_KEY_PEM, compress: true, bytes: utf8(key.publicKeyPem) },
    { path: CHECKPOINT_TXT, compress: true, bytes: utf8(plan.custody.checkpoint) },
    { path: CHECKPOINT_BODY, compress: true, bytes: utf8(checkpoint.body) },
    { path: CHECKPOINT_SIG, compress: false, bytes: checkpoint.signature },
    { path: CUSTODY_LOG, compress: true, bytes: utf8(logLines.join('')) },
  ];
  const files: PayloadFile[] = [
    ...payload.map((f) => ({ path: f.path, sizeBytes: f.bytes.length, sha256: sha256Hex(f.bytes) })),
    ...plan.evidenceFiles.map((f) => ({
      path: bundleEvidencePath(f.evidenceId, f.originalName),
      sizeBytes: f.sizeBytes,
      sha256: f.sha256,
    })),
  ];
  const manifestJson = jsonFile({
    case: plan.case,
    export: {
      id: plan.exportId,
      createdAt,
      createdBy: plan.createdBy,
      scope: plan.scope,
      redaction: plan.redaction,
      serviceVersion: plan.serviceVersion,
    },
    counts: plan.counts,
    files,
  });
  payload.unshift({ path: MANIFEST_JSON, compress: true, bytes: manifestJson });
  const everyPayloadFile = [{ path: MANIFEST_JSON, sizeBytes: manifestJson.length, sha256: sha256Hex(manifestJson) }, ...files];

  const manifest = utf8(
    everyPayloadFile
      .map((f) => `${f.sha256}  ${f.path}\n`)
      .sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1))
      .join(''),
  );
  const payloadBytes = everyPayloadFile.reduce((sum, f) => sum + f.sizeBytes, 0);
  const bagInfo = utf8(
    [
      ['Source-Organization', plan.sourceOrganization],
      ['Bagging-Date', createdAt.slice(0, 10)],
      ['External-Identifier', plan.exportId],
      ['Payload-Oxum', `${payloadBytes}.${everyPayloadFile.length}`],
      ['Bag-Software-Agent', `Custodia ${plan.serviceVersion}`],
      ['Custodia-Case-Reference', plan.case.reference],
      ['Custodia-Export-Scope', JSON.stringify(plan.scope)],
      ['Custodia-Redaction', plan.redaction],
      ['Custodia-Exported-By', plan.createdBy],
    ]
      .map(([label, value]) => `${label}: ${oneLine(value!)}\n`)
      .join(''),
  );
  const tag: BufferEntry[] = [
    { path: BAGIT_TXT, compress: true, bytes: utf8(BAGIT_TXT_CONTENT) },
    { path: BAG_INFO_TXT, compress: true, bytes: bagInfo },
    { path: MANIFEST_TXT, compress: true, bytes: manifest },
    { path: MANIFEST_SIG, compress: false, bytes: sign(manifest, key) },
  ];
  const tagManifest = tag.map((f) => `${sha256Hex(f.bytes)}  ${f.path}\n`).join('');
  tag.push({ path: TAGMANIFEST_TXT, compress: true, bytes: utf8(tagManifest) });
  return { tag, payload, files: everyPayloadFile };
}

/** Passes evidence bytes through, hashing and counting them; fails at the end on any difference. */
class EvidenceCheck extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  constructor(private readonly file: BundleEvidenceFile) {
    super({ highWaterMark: CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.file.sizeBytes) {
      callback(new EvidenceIntegrityError(this.file.evidenceId, this.file, { sha256: null, sizeBytes: this.bytes }));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.hash.digest('hex');
    if (sha256 !== this.file.sha256 || this.bytes !== this.file.sizeBytes) {
      callback(new EvidenceIntegrityError(this.file.evidenceId, this.file, { sha256, sizeBytes: this.bytes }));
      return;
    }
    callback();
  }
}

/** Counts and hashes the zip on its way to disk. */
class OutputMeter extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly onChunk: (bytes: number) => void) {
    super({ highWaterMark: CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onChunk(this.bytes);
    callback(null, chunk);
  }
}

/** Writes to an open file handle; the caller syncs and closes it. */
function fileSink(handle: FileHandle): Writable {
  return new Writable({
    highWaterMark: CHUNK_BYTES,
    write(chunk: Buffer, _encoding, callback) {
      handle.write(chunk).then(() => callback(), callback);
    },
    writev(chunks, callback) {
      handle.writev(chunks.map((c) => c.chunk as Buffer)).then(() => callback(), callback);
    },
  });
}

async function syncDirectory(path: string): Promise<void> {
  try {
    const dir = await open(path, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  }
}

export async function writeBundle(plan: BundlePlan, options: WriteBundleOptions): Promise<WrittenBundle> {
  options.signal?.throwIfAborted();
  const { tag, payload, files } = bagFiles(plan, options.signingKey);
  const mtime = plan.createdAt;
  const estimatedTotalBytes =
    [...tag, ...payload].reduce((sum, f) => sum + f.bytes.length, 0) + plan.evidenceFiles.reduce((sum, f) => sum + f.sizeBytes, 0);

  const zip = new ZipFile();
  const output = zip.outputStream as PassThrough;
  let failure: Error | undefined;
  let source: Readable | undefined;
  zip.on('error', (error: unknown) => {
    if (failure !== undefined) return;
    failure = error instanceof Error ? error : new Error(String(error));
    source?.destroy();
    output.destroy(failure);
  });
  // Emitting on the zip also sets yazl's own "errored" flag, which stops it pumping entries.
  const fail = (error: unknown): void => {
    zip.emit('error', error);
  };

  for (const file of [...tag, ...payload]) {
    zip.addBuffer(file.bytes, file.path, { compress: file.compress, mtime, mode: 0o100644 });
  }
  for (const file of plan.evidenceFiles) {
    const path = bundleEvidencePath(file.evidenceId, file.originalName);
    zip.addReadStreamLazy(path, { size: file.sizeBytes, compress: false, mtime, mode: 0o100644 }, (callback) => {
      if (failure !== undefined) return;
      file.open().then(
        (opened) => {
          source = opened;
          if (failure !== undefined) {
            opened.destroy();
            return;
          }
          const check = new EvidenceCheck(file);
          opened.on('error', fail);
          check.on('error', fail);
          callback(null, opened.pipe(check));
        },
        (error: unknown) => fail(error),
      );
    });
  }
  zip.end();

  const onAbort = (): void => fail(options.signal?.reason ?? new Error('aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const temporary = `${options.path}.partial-${randomUUID()}`;
  const handle = await open(temporary, 'wx', 0o600);
  const meter = new OutputMeter((bytesWritten) => options.onProgress?.({ bytesWritten, estimatedTotalBytes }));
  try {
    await pipeline(output, meter, fileSink(handle));
    if (failure !== undefined) throw failure;
    await handle.sync();
    await handle.close();
    await rename(temporary, options.path);
    await syncDirectory(dirname(options.path));
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw failure ?? error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  const payloadFiles = files.length;
  const payloadBytes = files.reduce((sum, f) => sum + f.sizeBytes, 0);
  return { path: options.path, bytes: meter.bytes, sha256: meter.hash.digest('hex'), payloadFiles, payloadBytes };
}
