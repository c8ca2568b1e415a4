// yazl computes each entry's CRC-32 with buffer-crc32, a table lookup in JavaScript (~250 MB/s,
// slower than the SHA-256 the export must compute anyway). Node ≥ 20.15 has zlib.crc32 in C
// (~2.5 GB/s) with the same (data, previous) → unsigned contract: point buffer-crc32's
// `unsigned`, the one function yazl calls, at it. Same values; a test compares both.
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

type Crc32Module = { unsigned: (data: Buffer | string, previous?: number | Buffer) => number };

const require = createRequire(import.meta.url);
const nativeCrc32 = (zlib as { crc32?: (data: Buffer | string, value?: number) => number }).crc32;

export function useNativeCrc32ForYazl(): boolean {
  if (nativeCrc32 === undefined) return false;
  // Resolved from yazl's own location, so this is the very module object yazl holds.
  const yazlPath = require.resolve('yazl');
  const crc32 = createRequire(yazlPath)('buffer-crc32') as Crc32Module;
  if ((crc32.unsigned as { native?: boolean }).native === true) return true;
  const original = crc32.unsigned.bind(crc32);
  const unsigned = (data: Buffer | string, previous?: number | Buffer): number =>
    Buffer.isBuffer(data) && (previous === undefined || typeof previous === 'number')
      ? nativeCrc32(data, previous ?? 0)
      : original(data, previous);
  crc32.unsigned = Object.assign(unsigned, { native: true });
  return true;
}
