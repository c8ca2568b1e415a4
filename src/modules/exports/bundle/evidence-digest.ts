// An evidence file's SHA-256 and CRC-32, computed on another thread. An export hashes every
// evidence byte twice — once alone, to prove the stored file is the one collected (and for the
// zip's CRC-32), and once inside the zip, for the bundle's own hash — and Node hashes on the
// thread that calls it; on a second core the two run side by side.
// Bytes cross through a fixed ring of shared slots (a copy, a few per cent of the hash's cost):
// the caller keeps its buffers, and memory stays at the ring's size whatever the file's.
import { Worker } from 'node:worker_threads';

const SLOT_BYTES = 1024 * 1024;
const SLOTS = 8;

// Plain CommonJS with no imports of ours: it runs the same from src/ (tsx), dist/ and under tap.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { crc32 } = require('node:zlib');
const ring = new Uint8Array(workerData.ring);
let hash = createHash('sha256');
let crc = 0;
parentPort.on('message', (message) => {
  if (message === 'digest') {
    parentPort.postMessage({ digest: { sha256: hash.digest('hex'), crc32: crc } });
    hash = createHash('sha256');
    crc = 0;
    return;
  }
  const start = message.slot * workerData.slotBytes;
  const bytes = ring.subarray(start, start + message.length);
  hash.update(bytes);
  crc = crc32(bytes, crc);
  parentPort.postMessage({ free: message.slot });
});
`;

export type Digest = { sha256: string; crc32: number };

export class EvidenceDigest {
  private readonly ring = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { ring: this.ring, slotBytes: SLOT_BYTES } });
  private readonly freeSlots = Array.from({ length: SLOTS }, (_, i) => i);
  private slotFreed: (() => void) | null = null;
  private digestWaiting: { resolve: (digest: Digest) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor() {
    this.worker.on('message', (message: { free?: number; digest?: Digest }) => {
      if (message.digest !== undefined) {
        this.digestWaiting?.resolve(message.digest);
        this.digestWaiting = null;
        return;
      }
      this.freeSlots.push(message.free!);
      this.slotFreed?.();
      this.slotFreed = null;
    });
    this.worker.on('error', (error) => {
      this.failure = error;
      this.slotFreed?.();
      this.digestWaiting?.reject(error);
      this.digestWaiting = null;
    });
  }

  /** Digests a copy of `chunk`; resolves once it is queued (the caller may then reuse `chunk`). */
  async update(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length; offset += SLOT_BYTES) {
      while (this.freeSlots.length === 0 && !this.failure) await new Promise<void>((resolve) => (this.slotFreed = resolve));
      if (this.failure) throw this.failure;
      const slot = this.freeSlots.pop()!;
      const piece = chunk.subarray(offset, offset + SLOT_BYTES);
      new Uint8Array(this.ring, slot * SLOT_BYTES, piece.length).set(piece);
      this.worker.postMessage({ slot, length: piece.length });
    }
  }

  /** SHA-256 (hex) and CRC-32 of everything given since the last digest. */
  digest(): Promise<Digest> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.digestWaiting = { resolve, reject };
      this.worker.postMessage('digest');
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
