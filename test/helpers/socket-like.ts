// A readable stream of `data` in 64 KiB reads, each pushed on a later turn of the event loop, as
// a socket delivers an upload; `failure` ends it early from outside its reads (a client going
// away), with an error or a bare close.
import { Readable } from 'node:stream';

export function socketLike(data: Buffer, failure?: { afterMs: number; error?: Error }): Readable {
  let offset = 0;
  const stream = new Readable({
    read() {
      if (offset >= data.length) return void this.push(null);
      const piece = data.subarray(offset, offset + 65536);
      offset += piece.length;
      setImmediate(() => this.push(Buffer.from(piece)));
    },
  });
  if (failure) setTimeout(() => (failure.error ? stream.destroy(failure.error) : stream.destroy()), failure.afterMs);
  return stream;
}
