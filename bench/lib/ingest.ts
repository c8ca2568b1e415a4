// Shared by both halves of `npm run bench:ingest` (multipart, bench/ingest.ts; tus,
// bench/ingest-tus.ts): the input file, the openssl baseline, and the server under test — the
// real `custodia serve` in a child process, as the image runs it (the compiled dist/ through
// bin/custodia.js with npm start's node flags, MALLOC_ARENA_MAX=2 as the Dockerfile sets it), so
// that its memory and CPU are measured on their own from /proc. BENCH_SERVER=tsx runs src/
// through tsx instead, BENCH_MALLOC_ARENA_MAX=0 leaves glibc's default arenas, and
// BENCH_SERVER_NODE_ARGS replaces the node flags (empty: V8's defaults), for comparison.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, scratchDatabase } from './database.ts';
import { Tally, report } from './report.ts';
import { plainNodeArgs } from './plain-node.ts';
import { serviceArgs } from './service.ts';

export const MiB = 1024 * 1024;
export const SIZES = (process.env.BENCH_SIZES_MIB ?? '1024,4096').split(',').map(Number);
/** Each size is measured this many times in a row (openssl, dd, the upload, the bare receiver each time); the figures are medians. */
export const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 3));
/**
 * A server's first upload also compiles its route's schemas (lazily, for start-up time), plans
 * its first queries and starts the digest worker: ~0.15-0.3 s once. The benches upload
 * BENCH_WARMUP_MIB first and report it on its own line, so that the timed uploads measure the
 * service as it runs for months, not its first minute.
 */
export const WARMUP_MIB = Number(process.env.BENCH_WARMUP_MIB ?? 64);
const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** `bytes` of random data (each MiB stamped with its index), fsynced so that its writeback does not overlap the upload. */
export async function generateFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path, { flush: true });
  const block = randomBytes(MiB);
  for (let written = 0, i = 0; written < bytes; written += MiB, i++) {
    block.writeUInt32LE(i, 0);
    if (!out.write(Buffer.from(block))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/**
 * Makes the file's bytes new (16 random bytes near its start), so that each run uploads evidence
 * the server has not seen: a second upload of the same bytes is a duplicate, which the server
 * stores differently (its copy is discarded once recorded).
 */
export async function restamp(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    await file.write(randomBytes(16), 0, 16, 8);
    await file.datasync();
  } finally {
    await file.close();
  }
}

/**
 * Writes bytes `start` to `end` (exclusive) of the file at `path` into `request`, through four
 * reused 1 MiB buffers (a buffer is read into again only once the socket took it). A client
 * that allocated a buffer per read would spend this machine's two cores on page faults that
 * the server under test then lacks: an investigator's client runs on another machine.
 */
export async function sendFile(request: Writable, path: string, start: number, end: number): Promise<void> {
  const file = await open(path, 'r');
  const buffers = Array.from({ length: 4 }, () => Buffer.allocUnsafe(MiB));
  const written: Promise<void>[] = [];
  try {
    for (let position = start, i = 0; position < end; i++) {
      if (written.length === buffers.length) await written.shift();
      const buffer = buffers[i % buffers.length]!;
      const { bytesRead } = await file.read(buffer, 0, Math.min(MiB, end - position), position);
      if (bytesRead === 0) throw new Error(`${path} ends before ${end}`);
      position += bytesRead;
      written.push(new Promise((resolve, reject) => request.write(buffer.subarray(0, bytesRead), (error) => (error ? reject(error) : resolve()))));
    }
    await Promise.all(written);
  } finally {
    await file.close();
  }
}

/**
 * `openssl dgst -sha256` over the file, timed on its second pass: the first brings the file into
 * the page cache, where the upload's client then reads it from too.
 */
export async function openssl(path: string): Promise<{ seconds: number; sha256: string }> {
  await run('openssl', ['dgst', '-sha256', '-r', path]);
  const started = process.hrtime.bigint();
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-r', path]);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, sha256: stdout.split(' ')[0]! };
}

/**
 * The disk's own pace: `dd` copies the file into `dir` (where the server keeps its data) past the
 * page cache and fsyncs it, as an upload must before it answers. An upload cannot beat it.
 */
export async function durableCopy(path: string, dir: string): Promise<{ seconds: number }> {
  const target = join(dir, 'dd-baseline.bin');
  const started = process.hrtime.bigint();
  try {
    await run('dd', [`if=${path}`, `of=${target}`, 'bs=4M', 'oflag=direct', 'conv=fsync']);
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    await rm(target, { force: true });
  }
}

/** A field of /proc/<pid>/status in MiB: VmHWM (peak resident size) or VmRSS (now). */
export async function rssMiB(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The highest resident size of `pid` while `work` runs (sampled every 100 ms), and the CPU it used. */
export async function measure<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMiB: number; cpuSeconds: number }> {
  let peakMiB = 0;
  const timer = setInterval(() => {
    rssMiB(pid, 'VmRSS').then((rss) => (peakMiB = Math.max(peakMiB, rss)), () => {});
  }, 100);
  const cpuBefore = await cpuSeconds(pid);
  try {
    const result = await work();
    return { result, peakMiB: Math.max(peakMiB, await rssMiB(pid, 'VmRSS')), cpuSeconds: (await cpuSeconds(pid)) - cpuBefore };
  } finally {
    clearInterval(timer);
  }
}

export function evidenceFields(): string {
  return JSON.stringify({
    title: 'bench',
    collectedAt: new Date().toISOString(),
    acquisition: process.env.BENCH_ACQUISITION ?? 'other',
    source: { kind: process.env.BENCH_SOURCE_KIND ?? 'other' },
  });
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when a source file is newer than it (bin/custodia.js would otherwise run src/ through tsx). */
async function ensureBuild(): Promise<void> {
  const stamp = join(root, 'dist/.built');
  if (existsSync(stamp) && newestSource(join(root, 'src')) <= statSync(stamp).mtimeMs) return;
  await run(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root });
}

export interface BenchServer {
  pid: number;
  /** The server's data directory (the disk baseline writes there). */
  dataDir: string;
  port: number;
  token: string;
  caseId: string;
  /** What the server runs (`dist` or `tsx`) and how (its malloc arenas). */
  runs: string;
  stop(): Promise<void>;
}

async function api(port: number, method: string, path: string, token: string | null, body?: unknown): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  return response.json();
}

/** npm start's node flags, unless BENCH_SERVER_NODE_ARGS replaces them (set it empty for V8's defaults). */
function serverNodeArgs(): string[] {
  const startArgs = serviceArgs();
  return process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? startArgs.slice(0, startArgs.indexOf('bin/custodia.js'));
}

/**
 * `custodia serve` on a scratch database and data directory, with an admin who leads one case;
 * answers once /health/ready does.
 */
export async function startServer(): Promise<BenchServer> {
  const runs = process.env.BENCH_SERVER === 'tsx' ? 'tsx' : 'dist';
  if (runs === 'dist') await ensureBuild();
  const database = await scratchDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-bench-ingest-'));
  const port = await freePort();
  const arenas = process.env.BENCH_MALLOC_ARENA_MAX ?? '2';
  const env = { ...process.env, MALLOC_ARENA_MAX: arenas, DATABASE_URL: database.url, CUSTODIA_DATA_DIR: dataDir, CUSTODIA_MAX_UPLOAD_BYTES: '50G', PORT: String(port), LOG_LEVEL: 'warn' };
  const password = randomBytes(12).toString('hex');
  const email = 'bench@example.org';
  const create = spawn(process.execPath, [join(root, 'bin/custodia.js'), 'user', 'create', '--email', email, '--display-name', 'bench', '--role', 'admin', '--password-stdin'], { env, stdio: ['pipe', 'ignore', 'inherit'] });
  create.stdin.end(`${password}\n`);
  const created = await new Promise<number | null>((resolve) => create.once('exit', resolve));
  if (created !== 0) throw new Error(`custodia user create exited with ${created}`);

  const nodeArgs = serverNodeArgs();
  const args = runs === 'tsx' ? ['--import', 'tsx', join(root, 'src/cli.ts'), 'serve'] : [join(root, 'bin/custodia.js'), 'serve'];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    for (let attempt = 0; ; attempt++) {
      if (child.exitCode !== null) throw new Error(`custodia serve exited with ${child.exitCode}`);
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (attempt > 300) throw new Error('custodia serve did not become ready in 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { token } = (await api(port, 'POST', '/auth/login', null, { email, password })) as { token: string };
    const me = (await api(port, 'GET', '/me', token)) as { id: string };
    const kase = (await api(port, 'POST', '/cases', token, { reference: 'BENCH-1', title: 'bench', leadUserId: me.id })) as { id: string };
    return { pid: child.pid!, dataDir, port, token, caseId: kase.id, runs: `${runs}, MALLOC_ARENA_MAX=${arenas}, node ${nodeArgs.join(' ') || '(no flags)'}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The receive-only ceiling (bench/lib/bare-receiver.ts) in a child process with npm start's node
 * flags, answering on the multipart route's path; answers once it listens.
 */
export interface BareReceiver {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

export async function startBareReceiver(): Promise<BareReceiver> {
  const port = await freePort();
  const nodeArgs = serverNodeArgs();
  const child = spawn(process.execPath, [...nodeArgs, ...(await plainNodeArgs(join(root, 'bench/lib/bare-receiver.ts')))], {
    cwd: root,
    env: { ...process.env, PORT: String(port), MALLOC_ARENA_MAX: process.env.BENCH_MALLOC_ARENA_MAX ?? '2' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`the bare receiver exited with ${child.exitCode}`);
    if (await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)) break;
    if (attempt > 300) {
      await stop();
      throw new Error('the bare receiver did not listen in 30 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { pid: child.pid!, port, stop };
}

export interface BenchRig {
  server: BenchServer;
  bare: BareReceiver;
  /** A scratch directory for the input files. */
  inputs: string;
}

/** Runs `work` beside the service, the bare receiver and a scratch directory, all stopped and removed afterwards whatever happens. */
export async function withBenchRig(work: (rig: BenchRig) => Promise<void>): Promise<void> {
  const server = await startServer();
  let bare: BareReceiver | null = null;
  let inputs: string | null = null;
  try {
    bare = await startBareReceiver();
    inputs = await mkdtemp(join(tmpdir(), 'custodia-bench-input-'));
    await work({ server, bare, inputs });
  } finally {
    await Promise.all([server.stop(), bare?.stop()]);
    if (inputs) await rm(inputs, { recursive: true, force: true });
  }
}

/** Uploads WARMUP_MIB through `upload` (which answers its seconds) and reports it as `<name>_first_upload_…`. */
export async function warmUp(name: string, server: Pick<BenchServer, 'pid'>, dir: string, upload: (path: string, bytes: number) => Promise<number>): Promise<void> {
  if (WARMUP_MIB <= 0) return;
  const path = join(dir, 'warm-up.bin');
  await generateFile(path, WARMUP_MIB * MiB);
  const { result: seconds, cpuSeconds } = await measure(server.pid, () => upload(path, WARMUP_MIB * MiB));
  report(`${name}_first_upload_${WARMUP_MIB}MiB`, WARMUP_MIB / seconds, `MiB/s (the server's first upload, not counted below; ${cpuSeconds.toFixed(2)} s of server CPU)`);
  await rm(path, { force: true });
}

/** What one run of a size gives the half of bench:ingest that measures it. */
export interface SizeRun {
  /** The input file, with new bytes for this run. */
  path: string;
  sizeMiB: number;
  /** openssl's MiB/s and digest on this run's bytes, and dd's MiB/s into the server's data directory. */
  opensslRate: number;
  sha256: string;
  diskRate: number;
  tally: Tally;
}

/**
 * For each size: an input file, then REPEATS runs of `measureRun`, each on new bytes with openssl
 * and dd beside it (their lines added first), the figures printed as medians once the runs are in.
 */
export async function measureSizes(inputs: string, dataDir: string, measureRun: (run: SizeRun) => Promise<void>): Promise<void> {
  for (const sizeMiB of SIZES) {
    const path = join(inputs, `input-${sizeMiB}.bin`);
    await generateFile(path, sizeMiB * MiB);
    const tally = new Tally();
    for (let run = 0; run < REPEATS; run++) {
      await restamp(path);
      const disk = await durableCopy(path, dataDir);
      const reference = await openssl(path);
      const opensslRate = sizeMiB / reference.seconds;
      const diskRate = sizeMiB / disk.seconds;
      tally.add(`openssl_sha256_${sizeMiB}MiB`, opensslRate, 'MiB/s');
      tally.add(`disk_durable_write_${sizeMiB}MiB`, diskRate, 'MiB/s (dd oflag=direct conv=fsync of the same file into the data directory)');
      await measureRun({ path, sizeMiB, opensslRate, sha256: reference.sha256, diskRate, tally });
    }
    tally.print();
    await rm(path, { force: true });
  }
}
