import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BlobNotFoundError, BlobTooLargeError, FilesystemBlobStore, adoptFinishedFile, hashStoredBlob, ingestStream, storageKeyOf } from '../../src/storage/index.ts';

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
  t.same(await readdir(store.tmpDir), [], 'the temporary copy is gone');

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

  await store.remove(first.sha256);
  await store.remove(first.sha256);
  t.notOk(await store.exists(first.sha256));
  t.equal(await store.stat(first.sha256), null);
  await t.rejects(store.open(first.sha256), BlobNotFoundError);
  t.throws(() => storageKeyOf('../../etc/passwd'));
});
