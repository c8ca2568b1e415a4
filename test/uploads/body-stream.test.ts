// A tus request's body goes to @tus/server as a web stream of ring slots filled as the socket
// delivers (uploads.tus.ts): the request pauses while every slot is out and resumes as they come
// back, a client that goes away ends the stream with the bytes that came, and a stream tus
// cancels stops reading the request.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import t from 'tap';
import { bodyStream } from '../../src/modules/uploads/uploads.tus.ts';
import { DIRECT_IO_ALIGNMENT, SLOT_BYTES, SlotRing } from '../../src/storage/slot-ring.ts';
import { socketLike } from '../helpers/socket-like.ts';

/** `data` as a socket delivers it (socketLike), counting the times it was paused. */
function requestLike(data: Buffer): Readable & { pauses: number } {
  const request = Object.assign(socketLike(data), { pauses: 0 });
  const pause = request.pause.bind(request);
  request.pause = () => {
    request.pauses++;
    return pause();
  };
  return request;
}

const asRequest = (readable: Readable) => readable as unknown as IncomingMessage;

/** Reads the stream as the store would, releasing each slot a little later (a disk write). */
async function drain(body: ReadableStream<Uint8Array>, releaseAfterMs: number): Promise<Buffer[]> {
  const slots: Buffer[] = [];
  const releases: Promise<void>[] = [];
  for await (const slot of body as unknown as AsyncIterable<Uint8Array>) {
    slots.push(Buffer.from(slot));
    const ring = SlotRing.owning(slot);
    if (!ring) throw new Error('not a slot');
    releases.push(new Promise((resolve) => setTimeout(() => resolve(ring.release(slot)), releaseAfterMs)));
  }
  await Promise.all(releases);
  return slots;
}

t.test('a body larger than the ring: the request pauses until slots come back; every byte, in order', async (t) => {
  const data = randomBytes(6 * SLOT_BYTES + 12345);
  const request = requestLike(data);
  const slots = await drain(bodyStream(asRequest(request), 3 * DIRECT_IO_ALIGNMENT + 10), 200);
  t.ok(Buffer.concat(slots).equals(data), 'every byte, in order');
  t.equal(slots[0]!.byteLength, DIRECT_IO_ALIGNMENT - 10, 'the first slot ends where the file is aligned');
  t.ok(slots.slice(1, -1).every((slot) => slot.byteLength === SLOT_BYTES), 'then whole slots');
  t.ok(request.pauses > 0, 'the request waited for free slots');
});

t.test('a client that goes away: the stream ends with the bytes that came', async (t) => {
  const data = randomBytes(6 * SLOT_BYTES);
  const request = requestLike(data);
  let received = 0;
  request.on('data', (chunk: Buffer) => {
    received += chunk.byteLength;
    if (received >= 5 * SLOT_BYTES) request.destroy();
  });
  const slots = await drain(bodyStream(asRequest(request), 0), 20);
  t.equal(Buffer.concat(slots).byteLength, received, 'what arrived before the cut, nothing more');
  t.ok(Buffer.concat(slots).equals(data.subarray(0, received)));
});

t.test('a stream tus cancels stops reading the request', async (t) => {
  const request = requestLike(randomBytes(8 * SLOT_BYTES));
  const reader = bodyStream(asRequest(request), 0).getReader();
  const first = await reader.read();
  t.equal(first.value?.byteLength, SLOT_BYTES);
  await reader.cancel();
  t.ok(request.isPaused(), 'the request is paused');
  const pushed = request.readableLength;
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(request.readableLength >= pushed, 'and nothing more is taken from it');
  SlotRing.owning(first.value!)!.release(first.value!);
  request.destroy();
});
