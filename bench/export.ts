// `npm run bench:export`: a case holding 2 GiB of evidence (four 512 MiB files, generated once into
// a scratch directory and reused), exported by the export job, downloaded to a file as the
// download route streams it, then checked by `custodia verify`; beside `openssl dgst -sha256` over
// the same evidence files. Prints throughputs (MiB/s of evidence), their ratio to openssl's, and
// peak memory (resident set growth of the job in this process; VmHWM of the `custodia verify`
// child). BENCH_EXPORT_MIB changes the total size;
// BENCH_DATA_DIR the scratch directory (default: <tmp>/custodia-bench-export).
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { createMasterKeyring, generateMasterKey, generateSigningKey, masterKeyToBase64 } from '../src/crypto/index.ts';
import { createDatabaseClient } from '../src/database/client.ts';
import type { Caller } from '../src/http/caller.ts';
import { ensureSigningKey } from '../src/modules/custody/signing-keys.ts';
import { registerEvidenceFromFile } from '../src/modules/evidence/evidence.intake.ts';
import { vocabularyCodes } from '../src/modules/vocabularies/vocabularies.ts';
import { runExportJob } from '../src/modules/exports/exports.job.ts';
import { verifyBundle } from '../src/verify/verify-bundle.ts';
import { blobStoreFor } from '../src/storage/index.ts';
import { bundleStream } from '../src/modules/exports/bundle/bundle-stream.ts';
import type { BundleSegment } from '../src/modules/exports/bundle/bundle-writer.ts';
import { pipeline } from 'node:stream/promises';
import { scratchDatabase } from './lib/database.ts';
import { report } from './lib/report.ts';

const MiB = 1024 * 1024;
const TOTAL_MIB = Number(process.env.BENCH_EXPORT_MIB ?? 2048);
const FILES = 4;
const FILE_BYTES = (TOTAL_MIB / FILES) * MiB;
const BENCH_DIR = process.env.BENCH_DATA_DIR ?? join(tmpdir(), 'custodia-bench-export');
const ROOT = join(import.meta.dirname, '..');

async function generateOnce(path: string, bytes: number, seed: number): Promise<void> {
  const existing = await stat(path).catch(() => null);
  if (existing?.size === bytes) return;
  const out = createWriteStream(`${path}.part`);
  const block = randomBytes(MiB);
  for (let written = 0, i = 0; written < bytes; written += MiB, i++) {
    block.writeUInt32LE(i, 0);
    block.writeUInt32LE(seed, 4);
    if (!out.write(Buffer.from(block))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  const { rename } = await import('node:fs/promises');
  await rename(`${path}.part`, path);
}

async function seconds<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const result = await run();
  return [result, Number(process.hrtime.bigint() - started) / 1e9];
}

/** Peak resident set of this process while `run` runs, sampled every 50 ms, above the start. */
async function peakRssGrowth<T>(run: () => Promise<T>): Promise<[T, number]> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    const result = await run();
    peak = Math.max(peak, process.memoryUsage().rss);
    return [result, (peak - base) / MiB];
  } finally {
    clearInterval(timer);
  }
}

/** Runs a command; answers its wall time and peak resident set (GNU time's %M). */
function timed(command: string, args: string[], okCodes: number[] = [0]): Promise<{ seconds: number; peakMiB: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', 'peak-kib=%M', command, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      if (!okCodes.includes(code ?? -1)) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      resolve({ seconds: elapsed, peakMiB: Number(/peak-kib=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024, stdout });
    });
  });
}

async function main() {
  const sourceDir = join(BENCH_DIR, 'source');
  await mkdir(sourceDir, { recursive: true });
  const sources = Array.from({ length: FILES }, (_, i) => join(sourceDir, `evidence-${i}-${FILE_BYTES}.bin`));
  for (const [i, path] of sources.entries()) await generateOnce(path, FILE_BYTES, i);
  const evidenceBytes = FILE_BYTES * FILES;
  const mib = evidenceBytes / MiB;


  const database = await scratchDatabase();
  const dataDir = join(BENCH_DIR, `run-${randomUUID()}`);
  await mkdir(dataDir, { recursive: true });
  const config = loadConfig({ DATABASE_URL: database.url, CUSTODIA_DATA_DIR: dataDir, CUSTODIA_MASTER_KEY: masterKeyToBase64(generateMasterKey()), LOG_LEVEL: 'warn' });
  const keys = { masterRing: createMasterKeyring(generateMasterKey()), signing: generateSigningKey('custodia-bench') };
  const db = createDatabaseClient(database.url, 5);
  const log = pino({ level: 'warn' });
  try {
    await ensureSigningKey(db, keys.signing, log);
    const admin = await db.user.create({ data: { email: `admin-${randomUUID()}@bench`, displayName: 'Bench', role: 'admin', passwordHash: 'x' } });
    const lead = await db.user.create({ data: { email: `lead-${randomUUID()}@bench`, displayName: 'Lead', role: 'member', passwordHash: 'x' } });
    const testCase = await db.case.create({ data: { reference: `BENCH-${randomUUID().slice(0, 8)}`, title: 'Export benchmark', createdBy: admin.id } });
    await db.caseMembership.create({ data: { caseId: testCase.id, userId: lead.id, role: 'lead' } });
    const caller: Caller = { user: { id: lead.id, role: 'member', sessionId: randomUUID() }, requestId: 'bench', address: '127.0.0.1', userAgent: null };
    const [acquisition] = [...vocabularyCodes('acquisition-methods')];
    const [sourceKind] = [...vocabularyCodes('source-kinds')];
    const store = blobStoreFor(config);
    for (const [i, source] of sources.entries()) {
      // A hard link: the store moves it in without copying 512 MiB, and the source stays.
      const incoming = join(dataDir, `incoming-${i}`);
      await link(source, incoming);
      await registerEvidenceFromFile({ db, config, store, log }, caller, testCase.id, { path: incoming, originalFilename: `footage-${i}.bin` }, {
        title: `Footage ${i}`,
        collectedAt: '2026-03-01T10:00:00.000Z',
        acquisition,
        source: { kind: sourceKind, name: 'Bench' },
      });
    }

    // Baseline: openssl over the same files, just before the job so that both find them in the
    // page cache alike: a first, untimed pass brings them in (this machine's memory reclaim
    // evicts files left alone for a few seconds; cold, both run at the disk's speed instead).
    const openssl = () => promisify(execFile)('openssl', ['dgst', '-sha256', ...sources], { maxBuffer: 1024 * 1024 });
    await openssl();
    const [, opensslSeconds] = await seconds(openssl);

    const exportId = randomUUID();
    await db.export.create({ data: { id: exportId, caseId: testCase.id, createdBy: lead.id, redaction: 'protect_witnesses', createdAt: new Date() } });
    const [[, exportSeconds], exportPeakMiB] = await peakRssGrowth(() => seconds(() => runExportJob({ db, config, keys, log, store }, exportId)));
    const row = await db.export.findUniqueOrThrow({ where: { id: exportId } });
    if (row.status !== 'done' || !row.sha256) throw new Error(`the export ended ${row.status}: ${row.error}`);
    // What a download does: the segments streamed in order, the whole hashed before its last chunk.
    const bundlePath = join(dataDir, 'bundle.zip');
    const [, downloadSeconds] = await seconds(() =>
      pipeline(bundleStream(store, row.segments as BundleSegment[], row.sha256!), createWriteStream(bundlePath)),
    );

    // The verifier itself, in this process; then the command as a user runs it.
    const [inProcess, inProcessSeconds] = await seconds(() => verifyBundle(bundlePath));
    if (!inProcess.ok) throw new Error(`the bundle does not verify: ${JSON.stringify(inProcess.firstFailure)}`);
    // `custodia verify` as installed (bin/custodia.js: the build from npm ci, or src/ through tsx
    // when a source file is newer).
    const verify = await timed(process.execPath, ['bin/custodia.js', 'verify', bundlePath]);
    // The command's start-up (node, the CLI's modules): `custodia verify` without a bundle.
    const startup = await timed(process.execPath, ['bin/custodia.js', 'verify'], [2]);

    const opensslRate = mib / opensslSeconds;
    const exportRate = mib / exportSeconds;
    const verifyRate = mib / verify.seconds;
    const verifyRateNet = mib / Math.max(0.001, verify.seconds - startup.seconds);
    report('evidence', mib, 'MiB');
    report('bundle', Number(row.bytes) / MiB, 'MiB');
    report('openssl dgst -sha256', opensslRate, 'MiB/s');
    report('export job', exportRate, 'MiB/s');
    report('export / openssl', (exportRate / opensslRate) * 100, '%');
    report('download to a file (streamed, verified)', mib / downloadSeconds, 'MiB/s');
    report('export peak RSS growth', exportPeakMiB, 'MiB');
    report('custodia verify (whole command)', verifyRate, 'MiB/s');
    report('custodia verify (without start-up)', verifyRateNet, 'MiB/s');
    report('verify / openssl', (verifyRate / opensslRate) * 100, '%');
    report('verify / openssl (without start-up)', (verifyRateNet / opensslRate) * 100, '%');
    report('verifier in-process', mib / inProcessSeconds, 'MiB/s');
    report('verifier in-process / openssl', (mib / inProcessSeconds / opensslRate) * 100, '%');
    report('verify peak RSS', verify.peakMiB, 'MiB');
    report('custodia command start-up', startup.seconds, 's');
    report('load average (1 min)', (await readFile('/proc/loadavg', 'utf8')).split(' ')[0]!);
  } finally {
    await db.$disconnect();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
