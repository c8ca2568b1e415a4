// Uploads and blob reads ask V8 for a scavenge every YOUNG_GARBAGE_BYTES, so the dead buffers of
// the HTTP parser and of file reads do not pile up; the `gc` function this needs never reaches the
// global object.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import t from 'tap';
import { FilesystemBlobStore, hashStoredBlob, ingestStream } from '../../src/storage/index.ts';
import { YOUNG_GARBAGE_BYTES, noteYoungGarbage, requestedScavenges } from '../../src/storage/young-garbage.ts';

t.test('a scavenge once YOUNG_GARBAGE_BYTES were noted, all callers together', async (t) => {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  t.teardown(() => observer.disconnect());

  const before = requestedScavenges();
  noteYoungGarbage(YOUNG_GARBAGE_BYTES / 2);
  noteYoungGarbage(YOUNG_GARBAGE_BYTES / 2);
  t.equal(requestedScavenges(), before + 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR), 'a minor collection ran');
  t.equal((globalThis as { gc?: unknown }).gc, undefined, 'no gc function on the global object');
});

t.test('ingest and blob reads note the bytes they receive', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-young-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new FilesystemBlobStore(join(dir, 'blobs'));
  const data = randomBytes(2 * YOUNG_GARBAGE_BYTES);
  async function* pieces() {
    for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
  }

  let before = requestedScavenges();
  const blob = await ingestStream(store, pieces(), { maxBytes: data.length });
  await store.commit(blob.temp, blob.sha256);
  t.ok(requestedScavenges() - before >= 1, 'an upload of twice the threshold asked for a scavenge');

  before = requestedScavenges();
  let read = 0;
  for await (const chunk of await store.open(blob.sha256)) read += (chunk as Buffer).byteLength;
  t.equal(read, data.length);
  t.ok(requestedScavenges() - before >= 1, 'so did reading it back');

  before = requestedScavenges();
  t.same(await hashStoredBlob(store, blob.sha256), { sha256: blob.sha256, sizeBytes: data.length });
  t.equal(requestedScavenges() - before, 0, 'a re-hash reads into the ring: no buffer to collect');

  // A store that can only stream (no digest): its reads are noted once, by the stream.
  const streamOnly = Object.assign(Object.create(store) as FilesystemBlobStore, { digest: undefined });
  before = requestedScavenges();
  t.same(await hashStoredBlob(streamOnly, blob.sha256), { sha256: blob.sha256, sizeBytes: data.length });
  const asked = requestedScavenges() - before;
  t.ok(asked >= 1 && asked <= 2, `a streamed re-hash notes each read once (${asked} scavenges for twice the threshold)`);
});
