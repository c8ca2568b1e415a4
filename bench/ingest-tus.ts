// The tus half of `npm run bench:ingest` (also `tsx bench/ingest-tus.ts` on its own): uploads a
// 1 GiB file through tus over a real socket — creation, PATCHes of BENCH_TUS_CHUNK_MIB (64 MiB by
// default) streamed from disk, then `complete`, which turns the finished file into evidence —
// beside `openssl dgst -sha256` on the same file. Prints MiB/s for the PATCHes, for the whole
// (PATCHes + complete), their ratios to openssl, the server's CPU time and resident memory
// (`custodia serve`, bench/lib/ingest.ts), and beside it the same PATCHes to a bare Fastify
// route that throws the bytes away (bench/lib/bare-receiver.ts), the receive path's ceiling;
// each size BENCH_REPEATS (3) times, figures as medians (bench/ingest.ts); repeats with 4 GiB for
// memory.
// BENCH_SIZES_MIB="1024,4096" changes the sizes. Needs DATABASE_URL or starts an embedded cluster.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiB, warmUp, evidenceFields, measure, measureSizes, rssMiB, sendFile, withBenchRig } from './lib/ingest.ts';
import { report } from './lib/report.ts';

const CHUNK = Number(process.env.BENCH_TUS_CHUNK_MIB ?? 64) * MiB;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(port: number, token: string, method: string, path: string, headers: Record<string, string>, body?: { file: string; start: number; end: number } | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method, path, headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    request.on('error', reject);
    if (body === undefined || typeof body === 'string') request.end(body);
    else sendFile(request, body.file, body.start, body.end).then(() => request.end(), reject);
  });
}

/** PATCHes of CHUNK bytes of the file at `path` to `location`, each at the offset the last one answered. */
async function patches(port: number, token: string, location: string, path: string, size: number): Promise<void> {
  for (let offset = 0; offset < size; ) {
    const length = Math.min(CHUNK, size - offset);
    const answer = await call(
      port,
      token,
      'PATCH',
      location,
      { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), 'content-length': String(length) },
      { file: path, start: offset, end: offset + length },
    );
    if (answer.status !== 204) throw new Error(`PATCH at ${offset} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    offset = Number(answer.headers['upload-offset']);
  }
}

async function tusUpload(port: number, token: string, caseId: string, path: string, size: number) {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const filename = Buffer.from('bench.bin').toString('base64');
  const created = await call(port, token, 'POST', `/api/v1/cases/${caseId}/uploads`, { 'upload-length': String(size), 'upload-metadata': `filename ${filename}` });
  if (created.status !== 201) throw new Error(`creation answered ${created.status}: ${created.body.slice(0, 300)}`);
  const location = String(created.headers.location);
  await patches(port, token, location, path, size);
  const patched = seconds();
  const completed = await call(port, token, 'POST', `${location}/complete`, { 'content-type': 'application/json' }, evidenceFields());
  if (completed.status !== 201) throw new Error(`complete answered ${completed.status}: ${completed.body.slice(0, 300)}`);
  return { patchSeconds: patched, totalSeconds: seconds(), sha256: (JSON.parse(completed.body) as { sha256: string }).sha256 };
}

export async function benchTus(): Promise<void> {
  await withBenchRig(async ({ server, bare, inputs }) => {
    const bareLocation = `/api/v1/uploads/${randomUUID()}`;
    const receiveOnly = async (path: string, bytes: number) => {
      const started = process.hrtime.bigint();
      await patches(bare.port, server.token, bareLocation, path, bytes);
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    report('tus_server_runs', server.runs);
    report('tus_server_rss_idle', await rssMiB(server.pid), 'MiB (VmHWM of `custodia serve` once ready)');
    await warmUp('tus', server, inputs, async (path, bytes) => (await tusUpload(server.port, server.token, server.caseId, path, bytes)).totalSeconds);
    await warmUp('tus_receive_only', bare, inputs, receiveOnly);
    await measureSizes(inputs, server.dataDir, async ({ path, sizeMiB, opensslRate, sha256, diskRate, tally }) => {
      const { result: upload, peakMiB, cpuSeconds } = await measure(server.pid, () => tusUpload(server.port, server.token, server.caseId, path, sizeMiB * MiB));
      if (upload.sha256 !== sha256) throw new Error('the server computed another hash than openssl');
      const { result: receiveSeconds, cpuSeconds: bareCpu } = await measure(bare.pid, () => receiveOnly(path, sizeMiB * MiB));
      const totalRate = sizeMiB / upload.totalSeconds;
      tally.add(`tus_patches_${sizeMiB}MiB`, sizeMiB / upload.patchSeconds, `MiB/s (${CHUNK / MiB} MiB PATCHes)`);
      tally.add(`tus_patches_and_complete_${sizeMiB}MiB`, totalRate, 'MiB/s');
      tally.add(`tus_complete_${sizeMiB}MiB`, upload.totalSeconds - upload.patchSeconds, 's');
      tally.add(`tus_patches_vs_openssl_${sizeMiB}MiB`, (sizeMiB / upload.patchSeconds / opensslRate) * 100, '%');
      tally.add(`tus_total_vs_openssl_${sizeMiB}MiB`, (totalRate / opensslRate) * 100, '%');
      tally.add(`tus_total_vs_disk_${sizeMiB}MiB`, (totalRate / diskRate) * 100, '%');
      tally.add(`tus_server_cpu_${sizeMiB}MiB`, cpuSeconds, 's (user + system, all threads of the server)');
      tally.add(`tus_server_rss_during_${sizeMiB}MiB`, peakMiB, 'MiB (highest VmRSS sampled during the upload)', true);
      tally.add(`tus_server_peak_rss_after_${sizeMiB}MiB`, await rssMiB(server.pid), 'MiB (VmHWM of the server process, start-up included)', true);
      tally.add(`tus_receive_only_${sizeMiB}MiB`, sizeMiB / receiveSeconds, `MiB/s (bare Fastify, the same ${CHUNK / MiB} MiB PATCHes, every byte thrown away: the ceiling)`);
      tally.add(`tus_receive_only_vs_openssl_${sizeMiB}MiB`, (sizeMiB / receiveSeconds / opensslRate) * 100, '%');
      tally.add(`tus_total_vs_receive_only_${sizeMiB}MiB`, (receiveSeconds / upload.totalSeconds) * 100, '%');
      tally.add(`tus_receive_only_cpu_${sizeMiB}MiB`, bareCpu, 's (user + system, all threads of the bare receiver)');
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await benchTus();
