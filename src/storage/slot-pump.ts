// Reads a Node stream straight into ring slots (slot-ring.ts) as it delivers: a 'data' listener,
// no promise or stream of ours per chunk, so the consumer sees one 2 MiB slot for every 32 of
// the socket's 64 KiB reads. The stream is paused while every slot of the ring is out and
// resumed as one comes back. Used for a tus PATCH's body, which @tus/server then passes through
// four streams of its own, and for a multipart file part.
import { type Readable, finished } from 'node:stream';
import { SlotFiller, SlotRing, takeRing } from './slot-ring.ts';
import { noteYoungGarbage } from './young-garbage.ts';

export interface SlotSink {
  /** A filled slot, in order; the taker releases it to its ring (SlotRing.owning) once done with it. */
  slot(bytes: Buffer): void;
  /** The source is over: `failure` is undefined after its end, else its error (or a close before its end). */
  end(failure?: unknown): void;
}

export interface SlotPump {
  /** Stops reading (the source is paused, not destroyed) and gives back the slot being filled. */
  stop(): void;
}

/** Pumps `source` into slots for `sink`; `startOffset` is where its first byte lands in a file (the first slot ends aligned). */
export function pumpIntoSlots(source: Readable, startOffset: number, sink: SlotSink): SlotPump {
  const filler = new SlotFiller(takeRing(), startOffset, (slot) => sink.slot(slot));
  // Chunks that arrived while no slot was free, in order (the source is paused meanwhile).
  const waiting: Uint8Array[] = [];
  let over: { failure?: unknown } | null = null;
  let stopped = false;

  const finish = () => {
    if (stopped) return;
    stopped = true;
    filler.flush();
    filler.finish();
    sink.end(over?.failure);
  };
  const place = () => {
    while (waiting.length > 0) {
      const rest = filler.fill(waiting[0]!);
      if (rest) {
        waiting[0] = rest;
        source.pause();
        void filler.nextSlot().then(() => {
          if (stopped) return;
          place();
          if (waiting.length === 0 && !over) source.resume();
        });
        return;
      }
      waiting.shift();
    }
    if (over) finish();
  };
  const ended = (failure?: unknown) => {
    if (over) return;
    over = { failure };
    if (waiting.length === 0) finish();
  };

  source.on('data', (chunk: Buffer) => {
    if (stopped) return;
    noteYoungGarbage(chunk.byteLength);
    waiting.push(chunk);
    if (waiting.length === 1) place();
  });
  // finished() also answers for a stream that ended, failed or closed before this was called.
  finished(source, (error) => ended(error ?? undefined));
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      source.pause();
      filler.finish();
    },
  };
}

/**
 * `source` as an async iterable of filled slots, for writeHashed (which releases each once written
 * and hashed). Rejects with the source's error, or when it closes before its end; leaving early
 * (a failure downstream) destroys the source.
 */
export async function* slotsOf(source: Readable, startOffset = 0): AsyncGenerator<Buffer> {
  const ready: Buffer[] = [];
  let over: { failure?: unknown } | null = null;
  let wake: (() => void) | null = null;
  const signal = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  const pump = pumpIntoSlots(source, startOffset, {
    slot(bytes) {
      ready.push(bytes);
      signal();
    },
    end(failure) {
      over = { failure };
      signal();
    },
  });
  let completed = false;
  try {
    for (;;) {
      const next = ready.shift();
      if (next) yield next;
      else if (over) {
        const { failure } = over as { failure?: unknown };
        if (failure !== undefined) throw failure;
        completed = true;
        return;
      } else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (!completed) {
      pump.stop();
      source.destroy();
      for (const slot of ready.splice(0)) SlotRing.owning(slot)!.release(slot);
    }
  }
}
