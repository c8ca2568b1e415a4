// A synthetic export plan for the bundle writer and the verifier tests: a custody log built with
// src/custody (with an item that is not exported, so the bundle's log is a subset), a fresh
// signing key, evidence files in a temporary directory.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  checkpointBody,
  entryLeafHash,
  inclusionProofFrom,
  rootFrom,
  signCheckpoint,
  subtreeHashes,
} from '../../src/custody/index.ts';
import type { CustodyEntry } from '../../src/custody/index.ts';
import { generateSigningKey } from '../../src/crypto/index.ts';
import type { SigningKey } from '../../src/crypto/index.ts';
import { assembleBundle } from '../../src/modules/exports/bundle/bundle-writer.ts';
import type { AssembleBundleOptions, AssembledBundle, BundleEvidenceFile, BundlePlan } from '../../src/modules/exports/bundle/bundle-writer.ts';
import { bundleStream } from '../../src/modules/exports/bundle/bundle-stream.ts';
import type { EvidenceCsvRow } from '../../src/modules/exports/bundle/evidence-csv.ts';
import { verifyCommand } from '../../src/verify/verify.cli.ts';
import { runCustodia } from '../helpers/cli.ts';

export type FixtureEvidence =
  | { name: string | null; bytes: Buffer }
  /** Generated on the fly, `size` bytes of a repeated 1 MiB pattern: never all in memory. */
  | { name: string | null; generatedSize: number };

export type Fixture = {
  dir: string;
  key: SigningKey;
  plan: BundlePlan;
  caseId: string;
  exportId: string;
  evidenceIds: string[];
  cleanup(): Promise<void>;
};

const PATTERN = Buffer.alloc(1024 * 1024);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 2654435761) >>> 24;

function generated(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, PATTERN.length);
      left -= n;
      this.push(n === PATTERN.length ? PATTERN : PATTERN.subarray(0, n));
    },
  });
}

async function hashOf(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export const DEFAULT_EVIDENCE: FixtureEvidence[] = [
  { name: 'photo 1 — Kharkiv.jpg', bytes: Buffer.from('\xff\xd8\xff\xe0 not really a jpeg, but bytes all the same', 'latin1') },
  { name: '../../etc/passwd', bytes: Buffer.from('a file whose name tries to escape\n') },
  { name: 'شهادة.txt', bytes: Buffer.from('نص الشهادة\n') },
  { name: null, bytes: Buffer.alloc(0) },
];

export async function makeFixture(evidence: FixtureEvidence[] = DEFAULT_EVIDENCE, options: { key?: SigningKey } = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-export-'));
  const key = options.key ?? generateSigningKey('custodia-test');
  const caseId = randomUUID();
  const exportId = randomUUID();
  const actorId = randomUUID();
  const at = (n: number) => new Date(Date.UTC(2026, 10, 25, 9, 0, n)).toISOString();

  const files: BundleEvidenceFile[] = [];
  for (const [index, item] of evidence.entries()) {
    const evidenceId = randomUUID();
    if ('bytes' in item) {
      const path = join(dir, `evidence-${index}`);
      await writeFile(path, item.bytes);
      files.push({
        evidenceId,
        originalName: item.name,
        sha256: createHash('sha256').update(item.bytes).digest('hex'),
        sizeBytes: item.bytes.length,
        open: async () => createReadStream(path, { highWaterMark: 1024 * 1024 }),
      });
    } else {
      files.push({
        evidenceId,
        originalName: item.name,
        sha256: await hashOf(generated(item.generatedSize)),
        sizeBytes: item.generatedSize,
        open: async () => generated(item.generatedSize),
      });
    }
  }

  // The case's whole log: every item collected and accessed, one item that is not exported,
  // then this export's entries.
  const entries: CustodyEntry[] = [];
  const append = (evidenceId: string, evidenceSha256: string, action: string, details: CustodyEntry['details'] = {}) =>
    entries.push({ v: 1, caseId, seq: entries.length, evidenceId, evidenceSha256, action, actorId, at: at(entries.length), details });
  const other = { id: randomUUID(), sha256: 'ab'.repeat(32) };
  for (const f of files) append(f.evidenceId, f.sha256, 'collected', { via: 'upload' });
  append(other.id, other.sha256, 'collected');
  for (const f of files) append(f.evidenceId, f.sha256, 'accessed');
  for (const f of files) append(f.evidenceId, f.sha256, 'exported', { exportId });
  const leaves = entries.map(entryLeafHash);
  const tree = subtreeHashes(leaves);
  const size = entries.length;
  const checkpoint = signCheckpoint(checkpointBody(`custodia/test-instance/cases/${caseId}`, size, rootFrom(tree, size)), key);
  const exported = new Set(files.map((f) => f.evidenceId));
  const lines = entries
    .filter((e) => exported.has(e.evidenceId))
    .map((entry) => ({
      seq: entry.seq,
      entry,
      leafHash: leaves[entry.seq]!.toString('hex'),
      inclusionProof: inclusionProofFrom(tree, entry.seq, size).map((h) => h.toString('hex')),
    }));

  const csv: EvidenceCsvRow[] = files.map((f, i) => ({
    identifier: f.evidenceId,
    title: i === 0 ? 'Photo, "north" gate\nsecond line' : `=HYPERLINK("x") item ${i}`,
    date: at(i),
    type: 'image/jpeg',
    source: 'witness',
    acquisitionMethod: 'direct_capture',
    collector: actorId,
    sha256: f.sha256,
    sizeBytes: f.sizeBytes,
    custodySummary: 'collected, accessed, exported',
    reviewStatus: 'verified',
  }));

  const plan: BundlePlan = {
    exportId,
    createdAt: new Date('2026-11-25T10:00:00.000Z'),
    createdBy: actorId,
    scope: {},
    redaction: 'protect_witnesses',
    serviceVersion: '0.1.0',
    sourceOrganization: 'Test Organisation\nwith a second line',
    case: { id: caseId, reference: 'CASE-2026-001', title: 'A test case' },
    counts: { evidence: { included: files.length, withheld: 0 }, statements: { included: 1, withheld: 1, withheldReasons: { noConsentToShare: 1 } } },
    records: {
      incidents: [{ id: randomUUID(), title: 'Shelling of the market' }],
      statements: [{ id: randomUUID(), narrative: 'I saw…' }],
      witnesses: [{ id: randomUUID(), code: 'W-0001' }],
      evidence: files.map((f) => ({ id: f.evidenceId, sha256: f.sha256, originalFilename: f.originalName })),
      reviews: [],
    },
    evidenceCsv: csv,
    evidenceFiles: files,
    custody: { lines, checkpoint },
  };
  return {
    dir,
    key,
    plan,
    caseId,
    exportId,
    evidenceIds: files.map((f) => f.evidenceId),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Assembles the plan's bundle and writes the whole zip to `path`, as a download would stream it:
 * the skeleton from memory, the evidence through the plan's own `open()`.
 */
export async function writeBundle(plan: BundlePlan, options: AssembleBundleOptions & { path: string }): Promise<AssembledBundle> {
  const bundle = await assembleBundle(plan, options);
  const evidence = new Map(plan.evidenceFiles.map((f) => [f.sha256, f]));
  const store = {
    async open(blob: string, range?: { start: number; end: number }): Promise<Readable> {
      if (blob === bundle.skeletonSha256) return Readable.from([bundle.skeleton.subarray(range!.start, range!.end + 1)]);
      const file = evidence.get(blob)!;
      if (range!.start !== 0 || range!.end !== file.sizeBytes - 1) throw new Error('evidence is always streamed whole');
      return file.open();
    },
  };
  await pipeline(bundleStream(store, bundle.segments, bundle.sha256), createWriteStream(options.path));
  return bundle;
}

/** Runs `custodia …` in a child process with no database configured; resolves with its exit code and output. */
export function custodia(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCustodia(args, { DATABASE_URL: '' });
}

/** `custodia verify …` in this process (no process start-up), with its output captured. */
export async function verifyInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = { write: (s: string) => ((stdout += s), true) } as unknown as NodeJS.WritableStream;
  const err = { isTTY: false, write: (s: string) => ((stderr += s), true) } as unknown as NodeJS.WriteStream;
  const code = await verifyCommand(args, { out, err });
  return { code, stdout, stderr };
}
