// `npm run bench:ingest`: uploads a 1 GiB file through the multipart route over a real socket
// (the server in a child process), beside `openssl dgst -sha256` on the same file; prints MiB/s
// for each, their ratio, and the server's peak resident memory (VmHWM of the child, from /proc).
// Repeats with 4 GiB for memory. BENCH_SIZES_MIB="1024,4096" changes the sizes.
// Needs DATABASE_URL (a scratch database is created on that server and dropped afterwards).
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrate } from '../src/database/migrate.ts';

const MiB = 1024 * 1024;
const SIZES = (process.env.BENCH_SIZES_MIB ?? '1024,4096').split(',').map(Number);
const print = (name: string, value: number | string, unit = '') => process.stdout.write(`${name}: ${value}${unit ? ` ${unit}` : ''}\n`);
const round = (x: number) => Math.round(x * 10) / 10;

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const urlFor = (name: string) => {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function generateFile(path: string, bytes: number) {
  const out = createWriteStream(path);
  const block = randomBytes(MiB);
  for (let written = 0, i = 0; written < bytes; written += MiB, i++) {
    block.writeUInt32LE(i, 0);
    if (!out.write(Buffer.from(block))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

async function openssl(path: string): Promise<{ seconds: number; sha256: string }> {
  const started = process.hrtime.bigint();
  const { stdout } = await promisify(execFile)('openssl', ['dgst', '-sha256', '-r', path]);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, sha256: stdout.split(' ')[0]! };
}

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function uploadFile(port: number, token: string, caseId: string, path: string): Promise<{ seconds: number; status: number; body: string }> {
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  const metadata = JSON.stringify({ title: 'bench', collectedAt: new Date().toISOString(), acquisition: process.env.BENCH_ACQUISITION ?? 'other', source: { kind: process.env.BENCH_SOURCE_KIND ?? 'other' } });
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: `/api/v1/cases/${caseId}/evidence`, headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, status: res.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
    request.write(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${metadata}\r\n`);
    request.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const file = createReadStream(path, { highWaterMark: MiB });
    file.on('error', reject);
    file.pipe(request, { end: false });
    file.on('end', () => request.end(`\r\n--${boundary}--\r\n`));
  });
}

async function main() {
  const database = `custodia_bench_ingest_${randomBytes(4).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-bench-ingest-'));
  await admin(`CREATE DATABASE ${database}`);
  await migrate(urlFor(database));
  const child = spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', 'bench/ingest-server.ts'], {
    env: { ...process.env, DATABASE_URL: urlFor(database), CUSTODIA_DATA_DIR: dataDir, CUSTODIA_MAX_UPLOAD_BYTES: '50G' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const { port, token, caseId } = JSON.parse(line) as { port: number; token: string; caseId: string };
    print('server_rss_idle', round(await peakRssMiB(child.pid!)), 'MiB (VmHWM of the server process)');
    for (const sizeMiB of SIZES) {
      const path = join(dataDir, `input-${sizeMiB}.bin`);
      await generateFile(path, sizeMiB * MiB);
      const reference = await openssl(path);
      const upload = await uploadFile(port, token, caseId, path);
      if (upload.status !== 201) throw new Error(`upload answered ${upload.status}: ${upload.body.slice(0, 300)}`);
      const evidence = JSON.parse(upload.body) as { sha256: string };
      if (evidence.sha256 !== reference.sha256) throw new Error('the server computed another hash than openssl');
      const opensslRate = sizeMiB / reference.seconds;
      const uploadRate = sizeMiB / upload.seconds;
      print(`openssl_sha256_${sizeMiB}MiB`, round(opensslRate), 'MiB/s');
      print(`multipart_upload_${sizeMiB}MiB`, round(uploadRate), 'MiB/s');
      print(`multipart_vs_openssl_${sizeMiB}MiB`, round((uploadRate / opensslRate) * 100), '%');
      print(`server_peak_rss_after_${sizeMiB}MiB`, round(await peakRssMiB(child.pid!)), 'MiB (VmHWM of the server process)');
      await rm(path, { force: true });
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();

// ---- tus: the resumable-upload half (bench/ingest-tus.ts, owned by the uploads work; the
// multipart part above is the evidence intake's). Same sizes, its own server and database.
const { benchTus } = await import('./ingest-tus.ts');
await benchTus();
