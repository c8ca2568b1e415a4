// The shared digest worker: SHA-256 (and CRC-32) of shared memory, in the order of the updates,
// for many streams at once; and when it dies, the streams in progress fail and new ones work.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import t from 'tap';
import { DigestStream, stopDigestWorker } from '../../src/storage/index.ts';
import { returnRing, takeRing } from '../../src/storage/slot-ring.ts';

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function shared(data: Buffer): Buffer {
  const buffer = Buffer.from(new SharedArrayBuffer(data.length));
  data.copy(buffer);
  return buffer;
}

t.test('digests match node:crypto and node:zlib, stream by stream, update after update', async (t) => {
  const a = randomBytes(3_000_001);
  const b = randomBytes(777);
  const one = new DigestStream({ crc32: true });
  const two = new DigestStream();
  const memory = shared(Buffer.concat([a, b]));
  await Promise.all([one.update(memory.subarray(0, 1_000_000)), two.update(memory.subarray(a.length))]);
  t.same(await one.digest(), { sha256: sha(a.subarray(0, 1_000_000)), crc32: crc32(a.subarray(0, 1_000_000)) }, 'a digest mid-way');
  await one.update(memory.subarray(1_000_000, a.length));
  t.same(await one.digest(), { sha256: sha(a), crc32: crc32(a) }, 'and the stream goes on');
  t.same(await two.digest(), { sha256: sha(b), crc32: null }, 'no CRC-32 unless asked');
  const empty = new DigestStream();
  t.equal((await empty.digest()).sha256, sha(Buffer.alloc(0)));
  for (const stream of [one, two, empty]) stream.close();
  await t.rejects(one.digest(), /closed/);
  await t.rejects(one.update(memory), /closed/);
});

t.test('slots of a ring: the disk and the worker read the same aligned, shared memory', async (t) => {
  const ring = takeRing();
  const slot = await ring.acquire();
  t.ok(slot.buffer instanceof SharedArrayBuffer);
  const data = randomBytes(slot.length);
  data.copy(slot);
  const stream = new DigestStream();
  await stream.update(slot);
  t.equal((await stream.digest()).sha256, sha(data));
  stream.close();
  ring.release(slot);
  returnRing(ring);
});

t.test('only shared memory can be digested (no copy is made)', async (t) => {
  const stream = new DigestStream();
  await t.rejects(stream.update(Buffer.alloc(10)), TypeError);
  stream.close();
});

t.test('a worker that dies fails the streams in progress; new streams get a new worker', async (t) => {
  const memory = shared(randomBytes(64 << 20));
  const stream = new DigestStream();
  const pending = stream.update(memory);
  await stopDigestWorker();
  await t.rejects(pending, 'the update in flight fails');
  await t.rejects(stream.digest(), 'and so does the stream');
  const next = new DigestStream();
  await next.update(memory.subarray(0, 10));
  t.equal((await next.digest()).sha256, sha(memory.subarray(0, 10)));
  next.close();
});

t.test('a call the worker cannot serve fails alone; the other streams go on', async (t) => {
  const memory = shared(randomBytes(1000));
  const healthy = new DigestStream();
  await healthy.update(memory.subarray(0, 500));
  // No stream of ours can ask for this (a closed stream refuses on this side): reach the worker directly.
  const worker = (healthy as unknown as { worker: { call(message: object): Promise<unknown> } }).worker;
  await t.rejects(worker.call({ op: 'digest', stream: -1 }), /no such digest stream/);
  await t.rejects(worker.call({ op: 'update', stream: -1, memory: memory.buffer, start: 0, length: 10 }), /no such digest stream/);
  await healthy.update(memory.subarray(500));
  t.equal((await healthy.digest()).sha256, sha(memory), 'the stream in progress is intact');
  healthy.close();
});
