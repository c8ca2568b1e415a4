// The ring's slots and the filler that gathers chunks into them: a slot filled upstream (a tus
// body) is handed over whole and goes back to its own ring; a ring comes back for reuse only
// once every slot is released, and a slot can never be released twice.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { DigestStream, writeHashed, type ByteSink } from '../../src/storage/index.ts';
import { DIRECT_IO_ALIGNMENT, SLOT_BYTES, SlotFiller, SlotRing, isDirectIoReady, returnRing, takeRing } from '../../src/storage/slot-ring.ts';

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

t.test('a filler hands out full slots, the first ending on an aligned position, and answers what no free slot took', async (t) => {
  const ring = new SlotRing();
  const handed: Buffer[] = [];
  const copies: Buffer[] = [];
  const filler = new SlotFiller(ring, 100, (slot) => {
    handed.push(slot);
    copies.push(Buffer.from(slot));
  });
  const data = randomBytes(4 * SLOT_BYTES);

  const rest = filler.fill(data);
  t.equal(handed.length, 4, 'every slot of the ring was filled and handed out');
  t.equal(handed[0]!.byteLength, DIRECT_IO_ALIGNMENT - 100, 'the first slot ends where the file is aligned');
  t.ok(handed.slice(1).every((slot) => slot.byteLength === SLOT_BYTES));
  t.ok(isDirectIoReady(handed[1]!), 'the next slots may go by direct I/O');
  t.equal(rest?.byteLength, SLOT_BYTES - (DIRECT_IO_ALIGNMENT - 100), 'the rest waits for a slot');

  let ready = false;
  const next = filler.nextSlot().then(() => (ready = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(ready, 'no slot is free until one is released');
  ring.release(handed[0]!);
  await next;
  t.equal(filler.fill(rest!), null, 'the rest went in');
  filler.flush();
  t.equal(handed.length, 5);
  t.equal(handed[4]!.byteLength, rest!.byteLength, 'flush hands out the partial slot');
  t.ok(Buffer.concat(copies).equals(data), 'every byte, in order');
});

t.test('a slot released twice, or a foreign view, throws', async (t) => {
  const ring = new SlotRing();
  const slot = await ring.acquire();
  ring.release(slot.subarray(0, 10));
  t.throws(() => ring.release(slot), /not a slot of this ring in use/);
  t.throws(() => ring.release(Buffer.alloc(10)), /not a slot of this ring in use/);
  const other = await new SlotRing().acquire();
  t.throws(() => ring.release(other), /not a slot of this ring in use/);
  t.equal(SlotRing.owning(slot), ring);
  t.equal(SlotRing.owning(Buffer.alloc(10)), null);
});

t.test('a returned ring is reused only once its last slot comes back', async (t) => {
  const ring = takeRing();
  const slot = await ring.acquire();
  returnRing(ring);
  const meanwhile = takeRing();
  t.not(meanwhile, ring, 'a ring with a slot out is not handed to anyone else');
  returnRing(meanwhile);
  ring.release(slot);
  const again = [takeRing(), takeRing()];
  t.ok(again.includes(ring), 'released, it is reused');
  t.ok(again.every((taken) => taken.idle));
  for (const taken of again) returnRing(taken);
});

t.test('a finished filler gives back its slot, and one it was waiting for', async (t) => {
  const ring = new SlotRing();
  const handed: Buffer[] = [];
  const filler = new SlotFiller(ring, 0, (slot) => handed.push(slot));
  t.ok(filler.fill(randomBytes(4 * SLOT_BYTES + 1)), 'all four slots out');
  const next = filler.nextSlot();
  filler.finish();
  ring.release(handed[0]!);
  await next;
  for (const slot of handed.slice(1)) ring.release(slot);
  t.ok(ring.idle, 'the slot that came after the finish went straight back');
  filler.finish();
});

/** A source that yields slots filled upstream, as a tus body does (uploads.tus.ts). */
function filledSlots(data: Buffer, startOffset: number): Readable {
  const ring = takeRing();
  const slots: Buffer[] = [];
  const filler = new SlotFiller(ring, startOffset, (slot) => slots.push(slot));
  let offset = 0;
  return new Readable({
    async read() {
      while (slots.length === 0 && offset < data.length) {
        const piece = data.subarray(offset, offset + 65536);
        offset += piece.length;
        for (let rest = filler.fill(piece); rest; rest = filler.fill(rest)) await filler.nextSlot();
        if (offset >= data.length) {
          filler.flush();
          filler.finish();
        }
      }
      this.push(slots.shift() ?? null);
    },
  });
}

t.test('writeHashed writes slots filled upstream as they are, and gives them back to their ring', async (t) => {
  const data = randomBytes(9 * SLOT_BYTES + 777);
  const written: Buffer[] = [];
  let direct = 0;
  const sink: ByteSink = {
    async write(chunk) {
      if (isDirectIoReady(chunk)) direct++;
      written.push(Buffer.from(chunk));
      await new Promise((resolve) => setTimeout(resolve, 2));
    },
  };
  const digest = new DigestStream();
  t.teardown(() => digest.close());
  const { sizeBytes } = await writeHashed(filledSlots(data, 4096 * 3 + 5), sink, digest, { maxBytes: data.length, headBytes: 0, startOffset: 4096 * 3 + 5 });
  t.equal(sizeBytes, data.length);
  t.ok(Buffer.concat(written).equals(data), 'every byte, in order');
  t.equal((await digest.digest()).sha256, sha(data));
  t.equal(written[0]!.byteLength, 4096 - 5, 'the first write ends aligned');
  t.equal(direct, 8, 'every whole slot went as it was, in aligned memory');
  // Every slot came back: the producer's ring is idle again, and reused.
  const rings = [takeRing(), takeRing()];
  t.ok(rings.every((ring) => ring.idle));
  for (const ring of rings) returnRing(ring);
});

t.test('writeHashed keeps the order when chunks to copy come before filled slots', async (t) => {
  const head = randomBytes(100_000);
  const tail = randomBytes(3 * SLOT_BYTES);
  const slots = filledSlots(tail, head.length);
  async function* mixed() {
    yield head.subarray(0, 60_000);
    yield head.subarray(60_000);
    for await (const slot of slots) yield slot;
  }
  const written: Buffer[] = [];
  const digest = new DigestStream();
  t.teardown(() => digest.close());
  const result = await writeHashed(mixed(), { write: async (chunk) => void written.push(Buffer.from(chunk)) }, digest, { maxBytes: Infinity, headBytes: 10 });
  const all = Buffer.concat([head, tail]);
  t.equal(result.sizeBytes, all.length);
  t.ok(Buffer.concat(written).equals(all));
  t.equal((await digest.digest()).sha256, sha(all));
});
