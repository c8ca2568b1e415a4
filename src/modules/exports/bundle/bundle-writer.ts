// Lays out an exported case file: a zip whose root is one BagIt bag (RFC 8493). Evidence is
// stored as it is, never copied: the export keeps the zip's structure and small files (its
// "skeleton") and the list of segments that interleave them with the evidence blobs; a download
// streams that sequence. Building the layout reads every evidence file once, re-hashing it: any
// difference from the recorded hash or size aborts the export.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parseCheckpoint, verifyCheckpoint } from '../../../custody/index.ts';
import type { CustodyEntry, JsonObject } from '../../../custody/index.ts';
import { sign } from '../../../crypto/index.ts';
import type { SigningKey } from '../../../crypto/index.ts';
import { evidenceCsv } from './evidence-csv.ts';
import type { EvidenceCsvRow } from './evidence-csv.ts';
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
import { EvidenceDigest } from './evidence-digest.ts';
import { ZipWriter } from './zip-writer.ts';

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

export type AssembleBundleOptions = {
  signingKey: SigningKey;
  onProgress?: (progress: BundleProgress) => void;
  signal?: AbortSignal;
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


/** Where the zip's bytes come from, in order: a range of a stored blob (an evidence file's names its item). */
export type BundleSegment = { blob: string; start: number; length: number; evidenceId?: string };

export type AssembledBundle = {
  /** The zip's own bytes (structure and small files), stored once as a blob of their own. */
  skeleton: Buffer;
  skeletonSha256: string;
  /** The whole zip: ranges of the skeleton interleaved with the evidence blobs, never copied. */
  segments: BundleSegment[];
  bytes: number;
  /** SHA-256 (hex) of the whole zip. */
  sha256: string;
  payloadFiles: number;
  payloadBytes: number;
};

/**
 * Lays out the bundle and reads every evidence file once: its bytes must hash to the recorded
 * SHA-256 and have the recorded size (else EvidenceIntegrityError), they give the zip its CRC-32s,
 * and they go into the bundle's own hash. Nothing is written: the caller stores the skeleton, and
 * a download assembles the zip from it and the evidence blobs (see bundle-stream.ts).
 */
export async function assembleBundle(plan: BundlePlan, options: AssembleBundleOptions): Promise<AssembledBundle> {
  options.signal?.throwIfAborted();
  const { tag, payload, files } = bagFiles(plan, options.signingKey);
  const estimatedTotalBytes = [...tag, ...payload].reduce((sum, f) => sum + f.bytes.length, 0) + plan.evidenceFiles.reduce((sum, f) => sum + f.sizeBytes, 0);
  const entry = { mtime: plan.createdAt, mode: 0o100644 };
  const zip = new ZipWriter();
  const zipHash = createHash('sha256');
  const skeleton: Buffer[] = [];
  let skeletonBytes = 0;
  const segments: (BundleSegment & { inSkeleton: boolean })[] = [];
  const structure = (bytes: Buffer): void => {
    zipHash.update(bytes);
    const last = segments.at(-1);
    if (last?.inSkeleton) last.length += bytes.length;
    else segments.push({ blob: '', start: skeletonBytes, length: bytes.length, inSkeleton: true });
    skeleton.push(bytes);
    skeletonBytes += bytes.length;
    options.onProgress?.({ bytesWritten: zip.offset, estimatedTotalBytes });
  };

  for (const file of [...tag, ...payload]) structure(zip.addBuffer(file.path, file.bytes, { ...entry, compress: file.compress }));
  const evidenceDigest = new EvidenceDigest();
  try {
    for (const file of plan.evidenceFiles) {
      options.signal?.throwIfAborted();
      structure(zip.beginStream(bundleEvidencePath(file.evidenceId, file.originalName), file.sizeBytes, entry));
      const source = await file.open();
      let bytes = 0;
      try {
        for await (const chunk of source as AsyncIterable<Buffer>) {
          options.signal?.throwIfAborted();
          bytes += chunk.length;
          if (bytes > file.sizeBytes) throw new EvidenceIntegrityError(file.evidenceId, file, { sha256: null, sizeBytes: bytes });
          zipHash.update(chunk);
          options.onProgress?.({ bytesWritten: zip.offset + bytes, estimatedTotalBytes });
          await evidenceDigest.update(chunk);
        }
      } finally {
        source.destroy();
      }
      const { sha256, crc32 } = await evidenceDigest.digest();
      if (sha256 !== file.sha256 || bytes !== file.sizeBytes) throw new EvidenceIntegrityError(file.evidenceId, file, { sha256, sizeBytes: bytes });
      if (file.sizeBytes > 0) segments.push({ blob: file.sha256, start: 0, length: file.sizeBytes, evidenceId: file.evidenceId, inSkeleton: false });
      structure(zip.endStream(crc32));
    }
  } finally {
    await evidenceDigest.close();
  }
  structure(zip.finish());

  const skeletonBuffer = Buffer.concat(skeleton, skeletonBytes);
  const skeletonSha256 = sha256Hex(skeletonBuffer);
  return {
    skeleton: skeletonBuffer,
    skeletonSha256,
    segments: segments.map(({ inSkeleton, ...segment }) => (inSkeleton ? { ...segment, blob: skeletonSha256 } : segment)),
    bytes: zip.offset,
    sha256: zipHash.digest('hex'),
    payloadFiles: files.length,
    payloadBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0),
  };
}
