// writeHashed over a stream as a socket delivers it, with a sink slow enough that it must wait
// for free slots: every byte arrives, in order, hashed; and a failure (the stream's, the limit,
// the sink's, a stream closed before its end) rejects, destroys the stream, and writes nothing
// once settled (the ring's slots may already serve another upload).
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { BlobTooLargeError, DigestStream, writeHashed, type ByteSink } from '../../src/storage/index.ts';
import { socketLike } from '../helpers/socket-like.ts';

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A sink slow enough that the ring runs out of free slots and the stream must be paused. */
function slowSink(): ByteSink & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  return {
    async write(chunk) {
      const copy = Buffer.from(chunk);
      await new Promise((resolve) => setTimeout(resolve, 5));
      parts.push(copy);
    },
    bytes: () => Buffer.concat(parts),
  };
}

t.test('every byte, in order, hashed, through pauses for free slots', async (t) => {
  const data = randomBytes(24 * 1024 * 1024 + 12345);
  const sink = slowSink();
  const digest = new DigestStream();
  t.teardown(() => digest.close());
  const source = socketLike(data);
  const result = await writeHashed(source, sink, digest, { maxBytes: data.length, headBytes: 1000 });
  t.equal(result.sizeBytes, data.length);
  t.same(result.head, data.subarray(0, 1000));
  t.ok(sink.bytes().equals(data), 'the sink holds the same bytes');
  t.equal((await digest.digest()).sha256, sha(data));
});

t.test('a stream that fails, or closes before its end, rejects and is destroyed', async (t) => {
  // Four times the ring, written at ~400 MiB/s: the stream goes away while a read waits for a slot.
  const data = randomBytes(32 * 1024 * 1024);
  for (const [name, failure, expected] of [
    ['an error', { afterMs: 30, error: new Error('connection reset') }, { message: 'connection reset' }],
    ['a close without error', { afterMs: 30 }, { code: 'ERR_STREAM_PREMATURE_CLOSE' }],
  ] as const) {
    const digest = new DigestStream();
    const source = socketLike(data, failure);
    const sink = slowSink();
    let settled = false;
    let lateWrites = 0;
    const counting: ByteSink = {
      write: (chunk) => {
        if (settled) lateWrites++;
        return sink.write(chunk);
      },
    };
    await t.rejects(writeHashed(source, counting, digest, { maxBytes: data.length }), expected, name);
    settled = true;
    t.ok(source.destroyed, `${name}: the stream is destroyed`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.equal(lateWrites, 0, `${name}: nothing is written once it settled (the ring may already serve another upload)`);
    digest.close();
  }
});

t.test('past the limit: BlobTooLargeError, and the stream is destroyed', async (t) => {
  const data = randomBytes(4 * 1024 * 1024);
  const digest = new DigestStream();
  t.teardown(() => digest.close());
  const source = socketLike(data);
  await t.rejects(writeHashed(source, slowSink(), digest, { maxBytes: 1024 * 1024 }), BlobTooLargeError);
  t.ok(source.destroyed);
});

t.test('a sink that fails: the error, and the stream is destroyed', async (t) => {
  const data = randomBytes(16 * 1024 * 1024);
  const digest = new DigestStream();
  t.teardown(() => digest.close());
  const source = socketLike(data);
  let writes = 0;
  const failing: ByteSink = {
    async write() {
      if (++writes === 2) throw new Error('disk full');
    },
  };
  await t.rejects(writeHashed(source, failing, digest, { maxBytes: data.length }), { message: 'disk full' });
  t.ok(source.destroyed);
});
