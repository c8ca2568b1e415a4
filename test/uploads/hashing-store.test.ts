// The tus store hashes PATCH bytes as it writes them, so `complete` need not read the file again.
// The hash must always be of exactly the bytes on disk: across a restart (a new store, no hash in
// memory: the prefix on disk is hashed once), after a failed write (the hash is dropped and
// rebuilt from the disk), after a PATCH whose last flush failed (found out by the next request,
// which fails in turn), and never for a length other than the one hashed.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { Upload } from '@tus/server';
import { HashingFileStore, type OpenAppender } from '../../src/modules/uploads/uploads.tus.ts';
import { FileAppender } from '../../src/storage/index.ts';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;

function pieces(data: Buffer, size = 100_003): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

/** A body that delivers `data` and then fails, as a client that goes away mid-PATCH. */
function failingAfter(data: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(data);
      } else this.destroy(new Error('connection reset'));
    },
  });
}

/** The status tus would answer for a rejected write (undefined when it did not reject). */
async function statusOfFailure(write: Promise<number>): Promise<number | undefined> {
  return write.then(
    () => undefined,
    (error: { status_code?: number }) => error.status_code,
  );
}

for (const directIo of [true, false]) t.test(`the tus store hashes what it writes (${directIo ? 'direct I/O' : 'page cache'})`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-tus-hash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = randomBytes(5 * MiB + 333);
  const newUpload = async (store: HashingFileStore) => {
    const id = randomUUID();
    await store.create(new Upload({ id, size: data.length, offset: 0 }));
    return id;
  };

  t.test('PATCHes in one process: the hash is known, for that length only', async (t) => {
    const store = new HashingFileStore(dir, 0, directIo);
    const id = await newUpload(store);
    t.equal(await store.write(pieces(data.subarray(0, 2 * MiB + 5)), id, 0), 2 * MiB + 5);
    t.equal(await store.sha256Of(id, 2 * MiB + 5), sha(data.subarray(0, 2 * MiB + 5)), 'the hash of the bytes so far');
    t.equal(await store.write(pieces(data.subarray(2 * MiB + 5)), id, 2 * MiB + 5), data.length);
    t.equal(await store.sha256Of(id, data.length), sha(data));
    t.equal(await store.sha256Of(id, data.length - 1), null, 'not for another length');
    t.ok((await readFile(join(dir, id))).equals(data), 'the file holds the bytes');
    store.forget(id);
    t.equal(await store.sha256Of(id, data.length), null, 'forgotten');
  });

  t.test('a restart: the next PATCH hashes the prefix on disk once, then goes on', async (t) => {
    const before = new HashingFileStore(dir, 0, directIo);
    const id = await newUpload(before);
    await before.write(pieces(data.subarray(0, 3 * MiB)), id, 0);
    const after = new HashingFileStore(dir, 0, directIo);
    t.equal(await after.sha256Of(id, 3 * MiB), null, 'a new process knows no hash');
    t.equal(await after.write(pieces(data.subarray(3 * MiB)), id, 3 * MiB), data.length);
    t.equal(await after.sha256Of(id, data.length), sha(data), 'prefix from the disk + the new bytes');
  });

  t.test('a write that fails drops the hash; the next one rebuilds it from what is on disk', async (t) => {
    const store = new HashingFileStore(dir, 0, directIo);
    const id = await newUpload(store);
    await store.write(pieces(data.subarray(0, MiB)), id, 0);
    t.equal(await statusOfFailure(store.write(failingAfter(data.subarray(MiB, 3 * MiB + 7)), id, MiB)), 500, 'tus sees a write error');
    t.equal(await store.sha256Of(id, MiB), null, 'no hash survives a failed write');
    const kept = (await stat(join(dir, id))).size;
    t.ok(kept >= MiB && kept <= 3 * MiB + 7, `the file holds a prefix of what arrived (${kept} bytes)`);
    t.ok((await readFile(join(dir, id))).equals(data.subarray(0, kept)), 'and only bytes that arrived');
    t.equal(await store.write(pieces(data.subarray(kept)), id, kept), data.length);
    t.equal(await store.sha256Of(id, data.length), sha(data), 'rebuilt from the disk');
  });

  t.test('a file shorter than the offset tus gives is a write error', async (t) => {
    const store = new HashingFileStore(dir, 0, directIo);
    const id = await newUpload(store);
    t.equal(await statusOfFailure(store.write(pieces(data.subarray(0, 10)), id, 100)), 500);
    t.equal(await store.sha256Of(id, 110), null);
  });

  t.test('termination forgets the hash', async (t) => {
    const store = new HashingFileStore(dir, 0, directIo);
    const id = await newUpload(store);
    await store.write(pieces(data.subarray(0, 1000)), id, 0);
    await store.remove(id);
    t.equal(await store.sha256Of(id, 1000), null);
  });
});

t.test('a PATCH does not wait for its last flush; one that failed fails the next request, and the retry reads the disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-tus-flush-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = randomBytes(3 * MiB + 77);
  // Each PATCH's file closes when `release` is called, after its flush; `failing` makes that flush fail.
  let failing = false;
  const pending: (() => void)[] = [];
  const release = () => pending.splice(0).forEach((go) => go());
  const openAppender: OpenAppender = async (path, options) => {
    const appender = await FileAppender.open(path, options);
    const close = appender.close.bind(appender);
    const fails = failing;
    failing = false;
    return Object.assign(appender, {
      close: async () => {
        await new Promise<void>((resolve) => pending.push(resolve));
        await close();
        if (fails) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      },
    });
  };
  const store = new HashingFileStore(dir, 0, true, openAppender);
  const newUpload = async () => {
    const id = randomUUID();
    await store.create(new Upload({ id, size: data.length, offset: 0 }));
    return id;
  };

  const id = await newUpload();
  failing = true;
  t.equal(await store.write(pieces(data.subarray(0, MiB)), id, 0), MiB, 'the PATCH is answered while its file still closes');
  t.equal(pending.length, 1, 'its close is still pending');
  const next = statusOfFailure(store.write(pieces(data.subarray(MiB, 2 * MiB)), id, MiB));
  await new Promise((resolve) => setTimeout(resolve, 50));
  release();
  await new Promise((resolve) => setTimeout(resolve, 50));
  release();
  t.equal(await next, 500, 'the next PATCH learns that the flush failed, and fails');
  t.equal((await stat(join(dir, id))).size, 2 * MiB, 'its bytes are on disk all the same (the client resumes after them)');
  const last = store.write(pieces(data.subarray(2 * MiB)), id, 2 * MiB);
  await new Promise((resolve) => setTimeout(resolve, 50));
  release();
  t.equal(await last, data.length, 'the PATCH after it goes on');
  t.equal(await store.sha256Of(id, data.length), sha(data), 'with the hash rebuilt from the disk');

  const other = await newUpload();
  failing = true;
  await store.write(pieces(data), other, 0);
  const asked = store.sha256Of(other, data.length);
  release();
  await t.rejects(asked, /may not have reached the disk/, '`complete` learns that the last flush failed');
  t.equal(await store.sha256Of(other, data.length), null, 'its retry reads the file again');
});
