// Keeps the dead buffers of uploads and blob reads from piling up. Node's HTTP parser copies
// every socket read (up to 64 KiB) into a new Buffer, and a file read stream allocates one per
// read; ingest copies each into a ring slot at once, a download hands it to the socket, so each
// is dead soon, yet its memory returns only when V8 scavenges the young generation. That
// happens when 32 MiB of young buffers are pending (V8's Heap::AllocateExternalBackingStore:
// twice its default semi-space, whatever the flags) or when the few small objects of each read
// fill the young generation: 25-40 MiB of an upload's peak memory was such garbage. Asking for a
// scavenge every YOUNG_GARBAGE_BYTES bounds it. Each takes ~0.5 ms (median; 1.1 ms at p90,
// --trace-gc during bench:ingest), ~60-80 ms per GiB, a few per cent of an upload's time.
//
// V8 offers that request only through its `gc` extension. It is enabled just long enough to take
// the function from a fresh context (as Jest does for its leak detection), so the service's own
// global object never has a `gc`.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const YOUNG_GARBAGE_BYTES = 8 * 1024 * 1024;

type GcFunction = (options: { type: 'minor' | 'major' }) => void;

function takeGcFunction(): GcFunction | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    return null;
  } finally {
    if (!process.execArgv.includes('--expose-gc')) setFlagsFromString('--no-expose-gc');
  }
}

let gc: GcFunction | null | undefined;
let pending = 0;
let requested = 0;

/** How many scavenges noteYoungGarbage asked for since the process started. */
export function requestedScavenges(): number {
  return requested;
}

/** Notes `bytes` received into short-lived buffers; every YOUNG_GARBAGE_BYTES (all callers together) asks V8 for a scavenge. */
export function noteYoungGarbage(bytes: number): void {
  pending += bytes;
  if (pending < YOUNG_GARBAGE_BYTES) return;
  pending = 0;
  gc ??= takeGcFunction();
  if (!gc) return;
  gc({ type: 'minor' });
  requested++;
}
