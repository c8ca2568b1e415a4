// An evidence file's SHA-256 and CRC-32, computed on the shared digest worker
// (storage/digest-worker.ts). An export hashes every evidence byte twice — once alone, to prove
// the stored file is the one collected (and for the zip's CRC-32), and once inside the zip, for
// the bundle's own hash — and Node hashes on the thread that calls it; on a second core the two
// run side by side. Bytes cross through the slots of one ring (a copy, a few per cent of the
// hash's cost): the caller keeps its buffers, and memory stays at the ring's size whatever the
// file's.
import { DigestStream, type StreamDigest } from '../../../storage/digest-worker.ts';
import { SLOT_BYTES, copyIntoSlot, returnRing, takeRing } from '../../../storage/slot-ring.ts';

export type Digest = { sha256: string; crc32: number };

export class EvidenceDigest {
  private readonly ring = takeRing();
  private stream = new DigestStream({ crc32: true });
  private readonly inflight = new Set<Promise<void>>();
  private failure: unknown = null;

  /** Digests a copy of `chunk`; resolves once it is queued (the caller may then reuse `chunk`). */
  async update(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length; offset += SLOT_BYTES) {
      const slot = await this.ring.acquire();
      if (this.failure) {
        this.ring.release(slot);
        throw this.failure;
      }
      const piece = chunk.subarray(offset, offset + SLOT_BYTES);
      copyIntoSlot(slot, piece, 0);
      const hashed: Promise<void> = this.stream.update(slot.subarray(0, piece.length)).then(
        () => {},
        (error: unknown) => {
          this.failure ??= error;
        },
      );
      const settled = hashed.then(() => {
        this.inflight.delete(settled);
        this.ring.release(slot);
      });
      this.inflight.add(settled);
    }
  }

  /** SHA-256 (hex) and CRC-32 of everything given since the last digest. */
  async digest(): Promise<Digest> {
    await Promise.all(this.inflight);
    if (this.failure) throw this.failure;
    const { sha256, crc32 }: StreamDigest = await this.stream.digest();
    this.stream.close();
    this.stream = new DigestStream({ crc32: true });
    return { sha256, crc32: crc32! };
  }

  async close(): Promise<void> {
    await Promise.all(this.inflight);
    this.stream.close();
    returnRing(this.ring);
  }
}
