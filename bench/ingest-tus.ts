// The tus half of `npm run bench:ingest` (also `tsx bench/ingest-tus.ts` on its own): uploads a
// 1 GiB file through tus over a real socket — creation, PATCHes of BENCH_TUS_CHUNK_MIB (64 MiB by
// default) streamed from disk, then `complete` (which hashes the finished file and moves it into
// the blob store) — beside `openssl dgst -sha256` on the same file. Prints MiB/s for the PATCHes,
// for the whole (PATCHes + complete), their ratios to openssl, and the server's peak RSS (VmHWM of
// the server child, bench/ingest-server.ts); repeats with 4 GiB for memory.
// BENCH_SIZES_MIB="1024,4096" changes the sizes. Needs DATABASE_URL or starts an embedded cluster.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { scratchDatabase } from './lib/database.ts';
import { report } from './lib/report.ts';

const MiB = 1024 * 1024;
const SIZES = (process.env.BENCH_SIZES_MIB ?? '1024,4096').split(',').map(Number);
const CHUNK = Number(process.env.BENCH_TUS_CHUNK_MIB ?? 64) * MiB;

async function generateFile(path: string, bytes: number) {
  const out = createWriteStream(path);
  const block = randomBytes(MiB);
  for (let written = 0, i = 0; written < bytes; written += MiB, i++) {
    block.writeUInt32LE(i, 0);
    if (!out.write(Buffer.from(block))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

async function openssl(path: string): Promise<{ seconds: number; sha256: string }> {
  const started = process.hrtime.bigint();
  const { stdout } = await promisify(execFile)('openssl', ['dgst', '-sha256', '-r', path]);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, sha256: stdout.split(' ')[0]! };
}

async function peakRssMiB(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** The highest resident size of `pid` while `run` runs (sampled every 100 ms): start-up excluded. */
async function sampleRss<T>(pid: number, run: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let peakMiB = 0;
  const timer = setInterval(() => {
    peakRssMiB(pid, 'VmRSS').then((rss) => (peakMiB = Math.max(peakMiB, rss)), () => {});
  }, 100);
  try {
    return { result: await run(), peakMiB };
  } finally {
    clearInterval(timer);
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(port: number, token: string, method: string, path: string, headers: Record<string, string>, body?: NodeJS.ReadableStream | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method, path, headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    request.on('error', reject);
    if (body === undefined || typeof body === 'string') request.end(body);
    else body.pipe(request);
  });
}

async function tusUpload(port: number, token: string, caseId: string, path: string, size: number) {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const filename = Buffer.from('bench.bin').toString('base64');
  const created = await call(port, token, 'POST', `/api/v1/cases/${caseId}/uploads`, { 'upload-length': String(size), 'upload-metadata': `filename ${filename}` });
  if (created.status !== 201) throw new Error(`creation answered ${created.status}: ${created.body.slice(0, 300)}`);
  const location = String(created.headers.location);
  for (let offset = 0; offset < size; ) {
    const length = Math.min(CHUNK, size - offset);
    const answer = await call(
      port,
      token,
      'PATCH',
      location,
      { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), 'content-length': String(length) },
      createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: MiB }),
    );
    if (answer.status !== 204) throw new Error(`PATCH at ${offset} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    offset = Number(answer.headers['upload-offset']);
  }
  const patched = seconds();
  const fields = JSON.stringify({ title: 'bench', collectedAt: new Date().toISOString(), acquisition: process.env.BENCH_ACQUISITION ?? 'other', source: { kind: process.env.BENCH_SOURCE_KIND ?? 'other' } });
  const completed = await call(port, token, 'POST', `${location}/complete`, { 'content-type': 'application/json' }, fields);
  if (completed.status !== 201) throw new Error(`complete answered ${completed.status}: ${completed.body.slice(0, 300)}`);
  return { patchSeconds: patched, totalSeconds: seconds(), sha256: (JSON.parse(completed.body) as { sha256: string }).sha256 };
}

export async function benchTus(): Promise<void> {
  const database = await scratchDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-bench-tus-'));
  const child = spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', 'bench/ingest-server.ts'], {
    env: { ...process.env, DATABASE_URL: database.url, CUSTODIA_DATA_DIR: dataDir, CUSTODIA_MAX_UPLOAD_BYTES: '50G' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const { port, token, caseId } = JSON.parse(line) as { port: number; token: string; caseId: string };
    report('tus_server_rss_idle', await peakRssMiB(child.pid!), 'MiB (VmHWM of the server process)');
    for (const sizeMiB of SIZES) {
      const path = join(dataDir, `input-${sizeMiB}.bin`);
      await generateFile(path, sizeMiB * MiB);
      const reference = await openssl(path);
      report(`tus_server_rss_before_${sizeMiB}MiB`, await peakRssMiB(child.pid!, 'VmRSS'), 'MiB (VmRSS before the upload)');
      const { result: upload, peakMiB } = await sampleRss(child.pid!, () => tusUpload(port, token, caseId, path, sizeMiB * MiB));
      if (upload.sha256 !== reference.sha256) throw new Error('the server computed another hash than openssl');
      const opensslRate = sizeMiB / reference.seconds;
      report(`openssl_sha256_${sizeMiB}MiB`, opensslRate, 'MiB/s');
      report(`tus_patches_${sizeMiB}MiB`, sizeMiB / upload.patchSeconds, `MiB/s (${CHUNK / MiB} MiB PATCHes)`);
      report(`tus_patches_and_complete_${sizeMiB}MiB`, sizeMiB / upload.totalSeconds, 'MiB/s (complete re-reads and hashes the file)');
      report(`tus_patches_vs_openssl_${sizeMiB}MiB`, (sizeMiB / upload.patchSeconds / opensslRate) * 100, '%');
      report(`tus_total_vs_openssl_${sizeMiB}MiB`, (sizeMiB / upload.totalSeconds / opensslRate) * 100, '%');
      report(`tus_server_rss_during_${sizeMiB}MiB`, peakMiB, 'MiB (highest VmRSS sampled during the upload)');
      report(`tus_server_peak_rss_after_${sizeMiB}MiB`, await peakRssMiB(child.pid!), 'MiB (VmHWM of the server process, start-up included)');
      await rm(path, { force: true });
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await benchTus();
