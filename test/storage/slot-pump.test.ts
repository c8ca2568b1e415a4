// slotsOf reads a multipart file part into ring slots as it arrives: every byte in order, the
// stream paused while every slot is out, its failure (or a close before its end) rethrown even
// when it came before anyone iterated, and a consumer that leaves early destroys the stream and
// gives its slots back.
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { BlobTooLargeError, DigestStream, slotsOf, writeHashed } from '../../src/storage/index.ts';
import { SLOT_BYTES, SlotRing, returnRing, takeRing } from '../../src/storage/slot-ring.ts';
import { socketLike } from '../helpers/socket-like.ts';

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

t.test('every byte in order, through writeHashed, with slots coming back to be filled again', async (t) => {
  const data = randomBytes(7 * SLOT_BYTES + 4321);
  const written: Buffer[] = [];
  const digest = new DigestStream();
  t.teardown(() => digest.close());
  const slowDisk = { write: async (chunk: Uint8Array) => void (written.push(Buffer.from(chunk)), await new Promise((resolve) => setTimeout(resolve, 10))) };
  const { sizeBytes, head } = await writeHashed(slotsOf(socketLike(data)), slowDisk, digest, { maxBytes: data.length, headBytes: 100 });
  t.equal(sizeBytes, data.length);
  t.ok(head.equals(data.subarray(0, 100)));
  t.ok(Buffer.concat(written).equals(data));
  t.equal(written.length, 8, 'one write per slot');
  t.equal((await digest.digest()).sha256, sha(data));
});

t.test("the stream's failure is rethrown, even one that came before the first read", async (t) => {
  const early = socketLike(randomBytes(1000));
  early.destroy(new Error('unexpected end of form'));
  await t.rejects(async () => {
    for await (const slot of slotsOf(early)) void slot;
  }, /unexpected end of form/);

  const closed = socketLike(randomBytes(3 * SLOT_BYTES));
  setTimeout(() => closed.destroy(), 5);
  await t.rejects(async () => {
    for await (const slot of slotsOf(closed)) SlotRing.owning(slot)!.release(slot);
  }, { code: 'ERR_STREAM_PREMATURE_CLOSE' });
});

t.test('a consumer that leaves early destroys the stream and gives back the slots it did not take', async (t) => {
  const source = socketLike(randomBytes(6 * SLOT_BYTES));
  const slots = slotsOf(source);
  const first = await slots.next();
  t.equal(first.value?.byteLength, SLOT_BYTES);
  // Let the pump fill the rest of the ring before leaving.
  await new Promise((resolve) => setTimeout(resolve, 50));
  await slots.return(undefined);
  t.ok(source.destroyed, 'the stream is destroyed');
  const ring = SlotRing.owning(first.value!)!;
  t.notOk(ring.idle, 'the slot taken is still out');
  ring.release(first.value!);
  // The slot the pump was waiting for goes straight back once its wait resolves.
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(ring.idle, 'every other slot came back');
  // Returned by the pump, the ring is now reused.
  const again = [takeRing(), takeRing()];
  t.ok(again.includes(ring));
  for (const taken of again) returnRing(taken);
});

t.test('past the limit: BlobTooLargeError, the stream destroyed, and every slot back in its ring', async (t) => {
  const source = socketLike(randomBytes(5 * SLOT_BYTES));
  const digest = new DigestStream();
  t.teardown(() => digest.close());
  let ring: SlotRing | null = null;
  const sink = { write: async (chunk: Uint8Array) => void (ring ??= SlotRing.owning(chunk)) };
  await t.rejects(writeHashed(slotsOf(source), sink, digest, { maxBytes: 3 * SLOT_BYTES }), BlobTooLargeError);
  t.ok(source.destroyed);
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(ring!.idle, 'the slot over the limit went back too');
});
