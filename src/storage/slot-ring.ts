// Memory for bytes on their way to the disk and to the digest worker. It is shared, so the
// worker hashes the bytes where they are, and page-aligned, so the disk can take them with
// direct I/O (O_DIRECT: no copy into the page cache, which costs more CPU than the hash itself
// on a virtual machine, and no gigabytes of someone's video evicting the cache the database
// lives on). A WebAssembly memory is the one allocation Node offers that starts on a page.
// An upload holds one ring of a few slots; rings are reused, so memory stays a few MiB per
// upload in progress, whatever the size of the files.

export const DIRECT_IO_ALIGNMENT = 4096;
// Measured with bench:ingest (2 GiB, against dd on the same disk): larger direct writes go faster
// (1 MiB x 6: 69-76 % of dd; 2 MiB x 4: 86-92 %; 4 MiB x 3 or 4: 80-93 %, with 4-8 MiB more
// resident per upload). An extending O_DIRECT write holds the file's lock, so more slots in flight
// do not make up for smaller ones.
export const SLOT_BYTES = 2 * 1024 * 1024;
const SLOTS_PER_RING = 4;
/** Rings kept for reuse once their upload is over (the rest are left to the garbage collector). */
const IDLE_RINGS_KEPT = 2;
const WASM_PAGE_BYTES = 65536;

// @types/node 20 leaves WebAssembly to the DOM library; this is the one part used here.
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer } };

const alignedMemory = new WeakSet<ArrayBufferLike>();

function alignedSharedMemory(bytes: number): SharedArrayBuffer {
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  alignedMemory.add(memory.buffer);
  return memory.buffer;
}

/** Whether `bytes` may go to the disk by direct I/O: start and length aligned, in aligned memory. */
export function isDirectIoReady(bytes: Uint8Array): boolean {
  return alignedMemory.has(bytes.buffer) && bytes.byteOffset % DIRECT_IO_ALIGNMENT === 0 && bytes.byteLength % DIRECT_IO_ALIGNMENT === 0;
}

/**
 * Copies `source` into `slot` at `offset`. TypedArray#set into shared memory is V8's relaxed-atomic
 * copy, which perf showed as the main thread's largest cost during an upload (14 % of the
 * server's samples, twice libc's memcpy of the same bytes); Buffer#fill with a value exactly as
 * long as the range is a single memcpy in Node's C++ (bench:ingest: ~10 % less server CPU).
 */
export function copyIntoSlot(slot: Buffer, source: Uint8Array, offset: number): void {
  if (source.byteLength > 0) slot.fill(source, offset, offset + source.byteLength);
}

export class SlotRing {
  private readonly free: Buffer[];
  private waiting: (() => void) | null = null;

  constructor() {
    const memory = alignedSharedMemory(SLOTS_PER_RING * SLOT_BYTES);
    this.free = Array.from({ length: SLOTS_PER_RING }, (_, i) => Buffer.from(memory, i * SLOT_BYTES, SLOT_BYTES));
  }

  /** A free slot, once one is. */
  async acquire(): Promise<Buffer> {
    while (this.free.length === 0) await new Promise<void>((resolve) => (this.waiting = resolve));
    return this.free.pop()!;
  }

  release(slot: Buffer): void {
    this.free.push(slot);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  get idle(): boolean {
    return this.free.length === SLOTS_PER_RING;
  }
}

const idleRings: SlotRing[] = [];

export function takeRing(): SlotRing {
  return idleRings.pop() ?? new SlotRing();
}

/** Gives back a ring whose slots are all released (one still in use is dropped instead). */
export function returnRing(ring: SlotRing): void {
  if (ring.idle && idleRings.length < IDLE_RINGS_KEPT) idleRings.push(ring);
}
