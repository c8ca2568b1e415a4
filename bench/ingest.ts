// `npm run bench:ingest`: uploads a 1 GiB file through the multipart route over a real socket to
// `custodia serve` in a child process (bench/lib/ingest.ts), beside `openssl dgst -sha256` on the
// same file and the disk's durable write of it (dd); prints MiB/s for each, the ratios, the
// server's CPU time for the upload, and its resident memory (idle, highest during each upload,
// VmHWM); beside it, the same upload to a bare Fastify + @fastify/multipart route that throws
// the bytes away (bench/lib/bare-receiver.ts), the receive path's ceiling. Each size is measured
// BENCH_REPEATS (3) times in a row, and each figure printed as its median beside every run's
// value (peaks as the highest). Repeats with 4 GiB for memory; then
// the same through tus (bench/ingest-tus.ts). BENCH_SIZES_MIB="1024,4096" changes the sizes;
// BENCH_SERVER=tsx runs the server from src/ through tsx instead of the compiled dist/.
// Needs DATABASE_URL or starts an embedded cluster.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { MiB, warmUp, evidenceFields, measure, measureSizes, rssMiB, sendFile, withBenchRig } from './lib/ingest.ts';
import { report } from './lib/report.ts';

async function uploadFile(port: number, token: string, caseId: string, path: string, size: number): Promise<{ seconds: number; status: number; body: string }> {
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
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
    request.write(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${evidenceFields()}\r\n`);
    request.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    sendFile(request, path, 0, size).then(() => request.end(`\r\n--${boundary}--\r\n`), reject);
  });
}

async function main() {
  await withBenchRig(async ({ server, bare, inputs }) => {
    report('server_runs', server.runs);
    report('server_rss_idle', await rssMiB(server.pid), 'MiB (VmHWM of `custodia serve` once ready)');
    await warmUp('multipart', server, inputs, async (path, bytes) => {
      const first = await uploadFile(server.port, server.token, server.caseId, path, bytes);
      if (first.status !== 201) throw new Error(`upload answered ${first.status}: ${first.body.slice(0, 300)}`);
      return first.seconds;
    });
    await warmUp('receive_only', bare, inputs, async (path, bytes) => (await uploadFile(bare.port, server.token, server.caseId, path, bytes)).seconds);
    await measureSizes(inputs, server.dataDir, async ({ path, sizeMiB, opensslRate, sha256, diskRate, tally }) => {
      const { result: upload, peakMiB, cpuSeconds } = await measure(server.pid, () => uploadFile(server.port, server.token, server.caseId, path, sizeMiB * MiB));
      if (upload.status !== 201) throw new Error(`upload answered ${upload.status}: ${upload.body.slice(0, 300)}`);
      if ((JSON.parse(upload.body) as { sha256: string }).sha256 !== sha256) throw new Error('the server computed another hash than openssl');
      const { result: received, cpuSeconds: bareCpu } = await measure(bare.pid, () => uploadFile(bare.port, server.token, server.caseId, path, sizeMiB * MiB));
      if (received.status !== 201 || (JSON.parse(received.body) as { bytes: number }).bytes !== sizeMiB * MiB) throw new Error(`the bare receiver answered ${received.status}: ${received.body.slice(0, 300)}`);
      const uploadRate = sizeMiB / upload.seconds;
      const receiveRate = sizeMiB / received.seconds;
      tally.add(`multipart_upload_${sizeMiB}MiB`, uploadRate, 'MiB/s');
      tally.add(`multipart_vs_openssl_${sizeMiB}MiB`, (uploadRate / opensslRate) * 100, '%');
      tally.add(`multipart_vs_disk_${sizeMiB}MiB`, (uploadRate / diskRate) * 100, '%');
      tally.add(`multipart_server_cpu_${sizeMiB}MiB`, cpuSeconds, 's (user + system, all threads of the server)');
      tally.add(`server_rss_during_${sizeMiB}MiB`, peakMiB, 'MiB (highest VmRSS sampled during the upload)', true);
      tally.add(`server_peak_rss_after_${sizeMiB}MiB`, await rssMiB(server.pid), 'MiB (VmHWM of the server process, start-up included)', true);
      tally.add(`receive_only_${sizeMiB}MiB`, receiveRate, 'MiB/s (bare Fastify + @fastify/multipart, same client, every byte thrown away: the ceiling)');
      tally.add(`receive_only_vs_openssl_${sizeMiB}MiB`, (receiveRate / opensslRate) * 100, '%');
      tally.add(`multipart_vs_receive_only_${sizeMiB}MiB`, (uploadRate / receiveRate) * 100, '%');
      tally.add(`receive_only_cpu_${sizeMiB}MiB`, bareCpu, 's (user + system, all threads of the bare receiver)');
    });
  });
}

await main();

// ---- tus: the resumable-upload half, same sizes, its own server and database.
const { benchTus } = await import('./ingest-tus.ts');
await benchTus();
