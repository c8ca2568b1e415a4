import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, mkdtemp, open, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EARLY_SYNC_BYTES } from '../../src/storage/fs-blob-store.ts';
import { SLOT_BYTES, returnRing, takeRing } from '../../src/storage/slot-ring.ts';
import { BlobNotFoundError, BlobTooLargeError, FileAppender, FilesystemBlobStore, adoptFinishedFile, hashStoredBlob, ingestStream, storageKeyOf } from '../../src/storage/index.ts';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
async function* chunks(data: Buffer, size = 7777) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
async function readAll(stream: AsyncIterable<unknown>) {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

t.test('filesystem blob store', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new FilesystemBlobStore(join(dir, 'blobs'));
  const data = randomBytes(3 * 1024 * 1024 + 17);

  const first = await ingestStream(store, chunks(data), { maxBytes: data.length });
  t.equal(first.sha256, sha(data));
  t.equal(first.sizeBytes, data.length);
  t.same(first.head, data.subarray(0, 512 * 1024));
  t.same(await store.commit(first.temp, first.sha256), { storageKey: storageKeyOf(first.sha256), created: true });
  t.ok(await store.exists(first.sha256));
  t.same(await store.stat(first.sha256), { sizeBytes: data.length });
  t.same(await readAll(await store.open(first.sha256)), data);
  t.same(await readAll(await store.open(first.sha256, { start: 10, end: 19 })), data.subarray(10, 20));
  t.same(await hashStoredBlob(store, first.sha256), { sha256: sha(data), sizeBytes: data.length });

  const again = await ingestStream(store, chunks(data, 65536), { maxBytes: data.length });
  t.same(await store.commit(again.temp, again.sha256), { storageKey: storageKeyOf(first.sha256), created: false }, 'existing blob kept');
  t.equal((await readdir(store.tmpDir)).length, 1, 'the temporary copy waits for the caller');
  await store.abort(again.temp);
  t.same(await readdir(store.tmpDir), [], 'and goes with abort');
  t.same(await readAll(await store.open(first.sha256)), data, 'the blob is untouched');

  await t.rejects(ingestStream(store, chunks(data), { maxBytes: data.length - 1 }), BlobTooLargeError);
  t.same(await readdir(store.tmpDir), [], 'nothing left after the limit');

  async function* failing() {
    yield Buffer.alloc(10);
    throw new Error('client went away');
  }
  await t.rejects(ingestStream(store, failing(), { maxBytes: 100 }), /went away/);
  t.same(await readdir(store.tmpDir), []);

  const aborted = await ingestStream(store, chunks(Buffer.from('abc')), { maxBytes: 10 });
  await store.abort(aborted.temp);
  await store.abort(aborted.temp);
  t.same(await readdir(store.tmpDir), []);

  const empty = await ingestStream(store, chunks(Buffer.alloc(0)), { maxBytes: 10 });
  t.equal(empty.sha256, sha(Buffer.alloc(0)));
  await store.commit(empty.temp, empty.sha256);
  t.same(await readAll(await store.open(empty.sha256)), Buffer.alloc(0));

  const local = join(dir, 'finished-upload');
  const localData = randomBytes(2_000_000);
  await writeFile(local, localData);
  const adopted = await adoptFinishedFile(store, local, 10_000_000);
  t.equal(adopted.sha256, sha(localData));
  t.equal(adopted.head.length, 512 * 1024);
  await store.commit(adopted.temp, adopted.sha256);
  t.same(await readAll(await store.open(adopted.sha256)), localData);
  const tooBig = join(dir, 'too-big');
  await writeFile(tooBig, localData);
  await t.rejects(adoptFinishedFile(store, tooBig, 1000), BlobTooLargeError);

  // A file its writer hashed: moved without being read again, unless its length is not the one hashed.
  const known = join(dir, 'hashed-upload');
  await writeFile(known, localData);
  const trusted = await adoptFinishedFile(store, known, 10_000_000, { sha256: sha(localData), sizeBytes: localData.length });
  t.equal(trusted.sha256, sha(localData));
  t.same(trusted.head, localData.subarray(0, 512 * 1024), 'its first bytes read');
  await store.abort(trusted.temp);
  const stale = join(dir, 'longer-than-hashed');
  await writeFile(stale, localData);
  const reread = await adoptFinishedFile(store, stale, 10_000_000, { sha256: sha(localData.subarray(1)), sizeBytes: localData.length - 1 });
  t.equal(reread.sha256, sha(localData), 'another length: hashed from the disk');
  await store.abort(reread.temp);
  const tooBigKnown = join(dir, 'too-big-known');
  await writeFile(tooBigKnown, localData);
  await t.rejects(adoptFinishedFile(store, tooBigKnown, 1000, { sha256: sha(localData), sizeBytes: localData.length }), BlobTooLargeError);

  await store.remove(first.sha256);
  await store.remove(first.sha256);
  t.notOk(await store.exists(first.sha256));
  t.equal(await store.stat(first.sha256), null);
  await t.rejects(store.open(first.sha256), BlobNotFoundError);
  t.throws(() => storageKeyOf('../../etc/passwd'));
});

t.test('direct I/O or the page cache: the same bytes, whatever the sizes of the pieces', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const directIo of [true, false]) {
    const store = new FilesystemBlobStore(join(dir, `blobs-${directIo}`), { directIo });
    for (const size of [0, 1, 4095, 4096, 4097, SLOT_BYTES - 1, SLOT_BYTES, SLOT_BYTES + 1, 3 * SLOT_BYTES + 4096 * 3 + 5]) {
      const data = randomBytes(size);
      for (const piece of [1000, 65536, SLOT_BYTES + 3]) {
        const blob = await ingestStream(store, chunks(data, piece), { maxBytes: size });
        t.equal(blob.sha256, sha(data), `${directIo ? 'direct' : 'cached'}: ${size} bytes in pieces of ${piece}: hash`);
        t.ok((await readFile(join(store.tmpDir, blob.temp.id))).equals(data), `${directIo ? 'direct' : 'cached'}: ${size} bytes in pieces of ${piece}: bytes`);
        await store.abort(blob.temp);
      }
    }
  }
});

t.test('a source that fails mid-way leaves no temporary file, and the next ingest works', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new FilesystemBlobStore(join(dir, 'blobs'));
  const data = randomBytes(5 * SLOT_BYTES);
  async function* failing() {
    yield* chunks(data.subarray(0, 3 * SLOT_BYTES + 100), 65536);
    throw new Error('connection reset');
  }
  await t.rejects(ingestStream(store, failing(), { maxBytes: data.length }), /connection reset/);
  t.same(await readdir(store.tmpDir), []);
  const blob = await ingestStream(store, chunks(data, 65536), { maxBytes: data.length });
  t.equal(blob.sha256, sha(data));
  await store.abort(blob.temp);
});

t.test('temporary bytes a stopped process left are swept once nothing wrote to them for long; those in use stay', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new FilesystemBlobStore(join(dir, 'blobs'));
  t.equal(await store.sweepTemps(new Date()), 0, 'no temporary directory yet: nothing to do');

  // A process killed mid-upload: its temporary file was neither committed nor aborted.
  const abandoned = await ingestStream(store, chunks(randomBytes(100_000)), { maxBytes: 1e6 });
  const dayAgo = new Date(Date.now() - 24 * 3600_000);
  await utimes(join(store.tmpDir, abandoned.temp.id), dayAgo, dayAgo);
  const inUse = await ingestStream(store, chunks(randomBytes(1000)), { maxBytes: 1e6 });
  // A resumable upload's file, last written long ago, adopted by its `complete` just now.
  const finishedUpload = join(dir, 'upload.bin');
  const uploaded = randomBytes(5000);
  await writeFile(finishedUpload, uploaded);
  await utimes(finishedUpload, dayAgo, dayAgo);
  const adopted = await adoptFinishedFile(store, finishedUpload, 1e6);

  t.equal(await store.sweepTemps(new Date(Date.now() - 3600_000)), 1, 'one abandoned file removed');
  t.same((await readdir(store.tmpDir)).sort(), [inUse.temp.id, adopted.temp.id].sort(), 'the fresh and the adopted ones stay');
  t.same(await store.commit(adopted.temp, sha(uploaded)), { storageKey: storageKeyOf(sha(uploaded)), created: true }, 'and the adopted one still commits');
  await store.abort(inUse.temp);
  await store.abort(abandoned.temp);
});

t.test('a blob larger than one early flush: written, flushed along the way, hashed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new FilesystemBlobStore(join(dir, 'blobs'));
  const data = randomBytes(EARLY_SYNC_BYTES * 2 + 12345);
  const blob = await ingestStream(store, chunks(data, 65536), { maxBytes: data.length });
  t.equal(blob.sha256, sha(data));
  await store.commit(blob.temp, blob.sha256);
  t.same(await hashStoredBlob(store, blob.sha256), { sha256: sha(data), sizeBytes: data.length });
});

t.test('a blob hashed where it lies, by direct I/O or through the page cache, and streamed: the same answer', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const direct = new FilesystemBlobStore(join(dir, 'blobs'), { directIo: true });
  const buffered = new FilesystemBlobStore(join(dir, 'blobs'), { directIo: false });
  // Ends on and off the alignment, on and off a slot, past several slots (more than the ring holds).
  for (const size of [0, 1, 4095, 4096, 4097, SLOT_BYTES - 1, SLOT_BYTES, SLOT_BYTES + 1, 5 * SLOT_BYTES + 12_345]) {
    const data = randomBytes(size);
    const blob = await ingestStream(direct, chunks(data, 65536), { maxBytes: size });
    await direct.commit(blob.temp, blob.sha256);
    const expected = { sha256: sha(data), sizeBytes: size };
    t.same(await direct.digest(blob.sha256), expected, `${size} bytes, direct`);
    t.same(await buffered.digest(blob.sha256), expected, `${size} bytes, page cache`);
    const streamOnly = Object.assign(Object.create(direct) as FilesystemBlobStore, { digest: undefined });
    t.same(await hashStoredBlob(streamOnly, blob.sha256), expected, `${size} bytes, streamed (a store without digest)`);
  }
  await t.rejects(direct.digest('0'.repeat(64)), BlobNotFoundError);
  await t.rejects(buffered.digest('0'.repeat(64)), BlobNotFoundError);
});

t.test('a failed early flush is not swallowed: the closing sync throws it', async (t) => {
  const calls: string[] = [];
  const handle = {
    write: async (chunk: Uint8Array, offset: number, length: number) => ({ bytesWritten: Math.min(length, 1 << 20), buffer: chunk, offset }),
    datasync: async () => {
      calls.push('datasync');
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    },
    sync: async () => {
      calls.push('sync');
    },
    close: async () => {
      calls.push('close');
    },
  } as unknown as FileHandle;
  const appender = new FileAppender(handle, null, 0, true);
  const chunk = Buffer.alloc(4 << 20);
  for (let written = 0; written <= EARLY_SYNC_BYTES; written += chunk.length) await appender.write(chunk);
  await t.rejects(appender.sync(), { code: 'EIO' });
  t.same(calls, ['datasync'], 'one early flush, and no fsync that would answer success after it');

  const quiet = new FileAppender(handle, null, 0, false);
  for (let written = 0; written <= EARLY_SYNC_BYTES; written += chunk.length) await quiet.write(chunk);
  await quiet.sync();
  t.same(calls, ['datasync', 'sync'], 'without early flushes, only the closing fsync');

  // A resumable upload's PATCH closes its file without an fsync (that comes at `complete`, through
  // another handle, which would not see this error): its close must fail instead.
  calls.length = 0;
  const patch = new FileAppender(handle, null, 0, true);
  for (let written = 0; written <= EARLY_SYNC_BYTES; written += chunk.length) await patch.write(chunk);
  await t.rejects(patch.close(), { code: 'EIO' });
  t.same(calls, ['datasync', 'close'], 'the file is closed all the same');
});

t.test('bytes written by direct I/O start early flushes too: a disk with a volatile cache holds them until a flush', async (t) => {
  const calls: string[] = [];
  const cached = {
    write: async (chunk: Uint8Array, offset: number, length: number) => {
      calls.push('cached write');
      return { bytesWritten: length, buffer: chunk, offset };
    },
    datasync: async () => void calls.push('datasync'),
    sync: async () => void calls.push('sync'),
    close: async () => {},
  } as unknown as FileHandle;
  const direct = {
    write: async (chunk: Uint8Array, offset: number, length: number) => ({ bytesWritten: length, buffer: chunk, offset }),
    close: async () => {},
  } as unknown as FileHandle;
  const appender = new FileAppender(cached, direct, 0, true);
  const ring = takeRing();
  const slot = await ring.acquire();
  for (let written = 0; written <= EARLY_SYNC_BYTES * 2; written += SLOT_BYTES) await appender.write(slot);
  await appender.sync();
  await appender.close();
  ring.release(slot);
  returnRing(ring);
  t.same(calls, ['datasync', 'datasync', 'sync'], 'one early flush per EARLY_SYNC_BYTES, through the cached handle (a flush is per file), then the closing fsync');
});

t.test('a direct write the filesystem refuses (EINVAL) goes through the page cache, and so do the next ones', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'file');
  await writeFile(path, '');
  const handle = await open(path, 'r+');
  let directWrites = 0;
  let directClosed = false;
  const refusing = {
    write: async () => {
      directWrites++;
      throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
    },
    close: async () => {
      directClosed = true;
    },
  } as unknown as FileHandle;
  const appender = new FileAppender(handle, refusing, 0, false);
  const ring = takeRing();
  const slot = await ring.acquire();
  const data = randomBytes(SLOT_BYTES * 2);
  for (const half of [data.subarray(0, SLOT_BYTES), data.subarray(SLOT_BYTES)]) {
    half.copy(slot);
    await appender.write(slot);
  }
  await appender.sync();
  await appender.close();
  ring.release(slot);
  returnRing(ring);
  t.equal(directWrites, 1, 'direct I/O tried once');
  t.ok(directClosed, 'the direct handle is closed all the same');
  t.ok((await readFile(path)).equals(data), 'every byte is in the file');
});
