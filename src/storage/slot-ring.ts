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

function alignedSharedMemory(bytes: number): SharedArrayBuffer {
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
}

/** Whether `bytes` may go to the disk by direct I/O: start and length aligned, in a ring's (aligned) memory. */
export function isDirectIoReady(bytes: Uint8Array): boolean {
  return ringOfMemory.has(bytes.buffer) && bytes.byteOffset % DIRECT_IO_ALIGNMENT === 0 && bytes.byteLength % DIRECT_IO_ALIGNMENT === 0;
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

/** Which ring a slot's memory belongs to (a slot filled upstream is released to its own ring). */
const ringOfMemory = new WeakMap<ArrayBufferLike, SlotRing>();

export class SlotRing {
  private readonly memory: SharedArrayBuffer;
  private readonly slots: Buffer[];
  private readonly free: Buffer[];
  private waiting: (() => void) | null = null;
  /** Set by returnRing: the ring goes back for reuse once its last slot is released. */
  private retired = false;

  constructor() {
    this.memory = alignedSharedMemory(SLOTS_PER_RING * SLOT_BYTES);
    this.slots = Array.from({ length: SLOTS_PER_RING }, (_, i) => Buffer.from(this.memory, i * SLOT_BYTES, SLOT_BYTES));
    this.free = [...this.slots];
    ringOfMemory.set(this.memory, this);
  }

  /** The ring whose memory `bytes` views (a slot filled and handed over by a SlotFiller), or null. */
  static owning(bytes: Uint8Array): SlotRing | null {
    return ringOfMemory.get(bytes.buffer) ?? null;
  }

  /** A free slot, once one is. */
  async acquire(): Promise<Buffer> {
    while (this.free.length === 0) await new Promise<void>((resolve) => (this.waiting = resolve));
    return this.free.pop()!;
  }

  /** A free slot now, or null. */
  tryAcquire(): Buffer | null {
    return this.free.pop() ?? null;
  }

  /**
   * Gives back the slot that `bytes` views (all of it, or the part that was filled). Releasing a
   * slot twice would let two writers share it: that throws.
   */
  release(bytes: Uint8Array): void {
    const slot = bytes.buffer === this.memory && bytes.byteOffset % SLOT_BYTES === 0 ? this.slots[bytes.byteOffset / SLOT_BYTES] : undefined;
    if (!slot || this.free.includes(slot)) throw new Error('not a slot of this ring in use');
    this.free.push(slot);
    if (this.retired && this.idle) keepForReuse(this);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  get idle(): boolean {
    return this.free.length === SLOTS_PER_RING;
  }

  /** Marks the ring done with; answers whether it is idle already. */
  retire(): boolean {
    this.retired = true;
    return this.idle;
  }

  /** Taken again from the idle rings. */
  revive(): this {
    this.retired = false;
    return this;
  }
}

const idleRings: SlotRing[] = [];

function keepForReuse(ring: SlotRing): void {
  if (idleRings.length < IDLE_RINGS_KEPT && !idleRings.includes(ring)) idleRings.push(ring);
}

export function takeRing(): SlotRing {
  return idleRings.pop()?.revive() ?? new SlotRing();
}

/**
 * Gives back a ring its taker is done with: kept for reuse once every slot is released (now, or
 * when the holder of the last one releases it). A slot never released leaves the ring to the
 * garbage collector.
 */
export function returnRing(ring: SlotRing): void {
  if (ring.retire()) keepForReuse(ring);
}

/**
 * Gathers chunks into the slots of a ring, in order, and hands each slot to `full` once it is
 * full (the first one once it reaches an aligned file position, from `startOffset`, so that
 * the rest can go by direct I/O) or when flushed. A slot handed out belongs to whoever takes it
 * until they release it to its ring (SlotRing.owning). fill() copies what the free slots take
 * and answers what is left of the chunk when none is free: wait with nextSlot(), then fill the
 * rest. finish() gives back the slot being filled and the ring.
 */
export class SlotFiller {
  private slot: Buffer | null;
  private used = 0;
  private capacity: number;
  private finished = false;

  constructor(
    private readonly ring: SlotRing,
    startOffset: number,
    private readonly full: (bytes: Buffer) => void,
  ) {
    this.slot = ring.tryAcquire();
    this.capacity = (DIRECT_IO_ALIGNMENT - (startOffset % DIRECT_IO_ALIGNMENT)) % DIRECT_IO_ALIGNMENT || SLOT_BYTES;
  }

  /** Copies `chunk` into slots; answers the part no free slot could take (null: all of it went in). */
  fill(chunk: Uint8Array): Uint8Array | null {
    let offset = 0;
    while (offset < chunk.byteLength) {
      this.slot ??= this.ring.tryAcquire();
      if (!this.slot) return chunk.subarray(offset);
      const n = Math.min(this.capacity - this.used, chunk.byteLength - offset);
      copyIntoSlot(this.slot, chunk.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === this.capacity) this.flush();
    }
    return null;
  }

  /** Resolves once a slot is there to fill. */
  async nextSlot(): Promise<void> {
    if (this.slot) return;
    const slot = await this.ring.acquire();
    if (this.finished || this.slot) this.ring.release(slot);
    else this.slot = slot;
  }

  /** Hands out the slot being filled, if it holds any bytes. */
  flush(): void {
    if (this.used === 0) return;
    const bytes = this.slot!.subarray(0, this.used);
    this.slot = null;
    this.used = 0;
    this.capacity = SLOT_BYTES;
    this.full(bytes);
  }

  /** Drops what is in the slot being filled (not handed out) and gives the ring back. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.slot) this.ring.release(this.slot);
    this.slot = null;
    this.used = 0;
    returnRing(this.ring);
  }
}
