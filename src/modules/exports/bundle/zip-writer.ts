// The bytes of a zip's structure — local headers, data descriptors, central directory, end
// records — without its file data. An export keeps only these and the small files; the evidence
// bytes are never copied: a download interleaves these parts with the stored blobs. So the
// layout must be known exactly, byte for byte, before any evidence is read.
//
// The layout is yazl's (a test compares the two byte for byte): UTF-8 names, small files with
// their CRC-32 and sizes in the local header, streamed files (evidence) stored as they are with
// a data descriptor after them (bit 3), an Info-ZIP "UT" timestamp in the central directory,
// ZIP64 records for an entry or offset past 4 GiB and for a central directory that needs them.
import zlib from 'node:zlib';

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const CENTRAL_HEADER = 0x02014b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const END = 0x06054b50;

const VERSION_UTF8 = 20;
const VERSION_ZIP64 = 45;
const VERSION_MADE_BY_UNIX = (3 << 8) | 63;
const FLAG_UTF8_NAME = 1 << 11;
const FLAG_DATA_DESCRIPTOR = 1 << 3;
const STORED = 0;
const DEFLATED = 8;
const MAX_32 = 0xffffffff;
const MAX_16 = 0xffff;

export type ZipEntryOptions = { mtime: Date; mode: number };

type CentralRecord = {
  name: Buffer;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  offset: number;
  mtime: Date;
  mode: number;
  /** ZIP64 records whatever the sizes (tests reach that form without 4 GiB of data). */
  zip64: boolean;
};

type OpenStream = { record: CentralRecord; startedAt: number };

const needsZip64 = (record: CentralRecord): boolean =>
  record.zip64 || record.size > MAX_32 - 1 || record.compressedSize > MAX_32 - 1 || record.offset > MAX_32 - 1;

function u64(buffer: Buffer, value: number, at: number): void {
  buffer.writeBigUInt64LE(BigInt(value), at);
}

/** MS-DOS date and time, in local time as Info-ZIP and yazl write them, clamped to 1980–2107. */
function dosDateTime(date: Date): { time: number; date: number } {
  const min = new Date(1980, 0, 1);
  const max = new Date(2107, 11, 31, 23, 59, 58);
  const d = date < min ? min : date > max ? max : date;
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

function localHeader(record: CentralRecord, known: boolean): Buffer {
  const header = Buffer.alloc(30 + record.name.length);
  const { time, date } = dosDateTime(record.mtime);
  header.writeUInt32LE(LOCAL_HEADER, 0);
  header.writeUInt16LE(VERSION_UTF8, 4);
  header.writeUInt16LE(record.flags, 6);
  header.writeUInt16LE(record.method, 8);
  header.writeUInt16LE(time, 10);
  header.writeUInt16LE(date, 12);
  header.writeUInt32LE(known ? record.crc32 : 0, 14);
  header.writeUInt32LE(known ? record.compressedSize : 0, 18);
  header.writeUInt32LE(known ? record.size : 0, 22);
  header.writeUInt16LE(record.name.length, 26);
  header.writeUInt16LE(0, 28);
  record.name.copy(header, 30);
  return header;
}

function dataDescriptor(record: CentralRecord): Buffer {
  if (!needsZip64(record)) {
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
    descriptor.writeUInt32LE(record.crc32, 4);
    descriptor.writeUInt32LE(record.compressedSize, 8);
    descriptor.writeUInt32LE(record.size, 12);
    return descriptor;
  }
  const descriptor = Buffer.alloc(24);
  descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
  descriptor.writeUInt32LE(record.crc32, 4);
  u64(descriptor, record.compressedSize, 8);
  u64(descriptor, record.size, 16);
  return descriptor;
}

function centralHeader(record: CentralRecord): Buffer {
  const zip64 = needsZip64(record);
  const timestamp = Buffer.alloc(9);
  timestamp.writeUInt16LE(0x5455, 0);
  timestamp.writeUInt16LE(5, 2);
  timestamp.writeUInt8(0b11, 4); // mtime present; atime flagged as Info-ZIP does (never present here)
  timestamp.writeInt32LE(Math.max(-0x80000000, Math.min(0x7fffffff, Math.floor(record.mtime.getTime() / 1000))), 5);
  const extra64 = Buffer.alloc(zip64 ? 28 : 0);
  if (zip64) {
    extra64.writeUInt16LE(0x0001, 0);
    extra64.writeUInt16LE(24, 2);
    u64(extra64, record.size, 4);
    u64(extra64, record.compressedSize, 12);
    u64(extra64, record.offset, 20);
  }
  const header = Buffer.alloc(46);
  const { time, date } = dosDateTime(record.mtime);
  header.writeUInt32LE(CENTRAL_HEADER, 0);
  header.writeUInt16LE(VERSION_MADE_BY_UNIX, 4);
  header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_UTF8, 6);
  header.writeUInt16LE(record.flags, 8);
  header.writeUInt16LE(record.method, 10);
  header.writeUInt16LE(time, 12);
  header.writeUInt16LE(date, 14);
  header.writeUInt32LE(record.crc32, 16);
  header.writeUInt32LE(zip64 ? MAX_32 : record.compressedSize, 20);
  header.writeUInt32LE(zip64 ? MAX_32 : record.size, 24);
  header.writeUInt16LE(record.name.length, 28);
  header.writeUInt16LE(timestamp.length + extra64.length, 30);
  // comment length, disk number start, internal attributes: 0
  header.writeUInt32LE(((record.mode & 0xffff) << 16) >>> 0, 38);
  header.writeUInt32LE(zip64 ? MAX_32 : record.offset, 42);
  return Buffer.concat([header, record.name, timestamp, extra64]);
}

function endRecords(entries: number, directoryOffset: number, directorySize: number, force: boolean): Buffer {
  // Each field that does not fit (or all, when forced) says "see the ZIP64 record".
  const entriesField = force || entries >= MAX_16 ? MAX_16 : entries;
  const sizeField = force || directorySize >= MAX_32 ? MAX_32 : directorySize;
  const offsetField = force || directoryOffset >= MAX_32 ? MAX_32 : directoryOffset;
  const zip64 = entriesField === MAX_16 || sizeField === MAX_32 || offsetField === MAX_32;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END, 0);
  end.writeUInt16LE(entriesField, 8);
  end.writeUInt16LE(entriesField, 10);
  end.writeUInt32LE(sizeField, 12);
  end.writeUInt32LE(offsetField, 16);
  if (!zip64) return end;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(ZIP64_END, 0);
  u64(record, 56 - 12, 4);
  record.writeUInt16LE(VERSION_MADE_BY_UNIX, 12);
  record.writeUInt16LE(VERSION_ZIP64, 14);
  u64(record, entries, 24);
  u64(record, entries, 32);
  u64(record, directorySize, 40);
  u64(record, directoryOffset, 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(ZIP64_LOCATOR, 0);
  u64(locator, directoryOffset + directorySize, 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([record, locator, end]);
}

/**
 * Lays out a zip entry by entry. Each call answers the structural bytes that come next in the
 * archive; for a streamed entry, its data (exactly `size` bytes) goes between `beginStream`'s and
 * `endStream`'s answers. `offset` is the archive's length so far, data included.
 */
export class ZipWriter {
  private readonly records: CentralRecord[] = [];
  private open: OpenStream | null = null;
  private ended = false;
  offset = 0;

  constructor(private readonly options: { forceZip64?: boolean } = {}) {}

  private checkName(name: string): Buffer {
    if (this.ended || this.open !== null) throw new Error('the zip is not accepting an entry now');
    const raw = Buffer.from(name, 'utf8');
    if (raw.length === 0 || raw.length > MAX_16) throw new Error(`bad entry name ${JSON.stringify(name)}`);
    return raw;
  }

  /** A small file, deflated when asked, whole: header and data. */
  addBuffer(name: string, bytes: Buffer, options: ZipEntryOptions & { compress: boolean }): Buffer {
    const data = options.compress ? zlib.deflateRawSync(bytes) : bytes;
    const record: CentralRecord = {
      name: this.checkName(name),
      flags: FLAG_UTF8_NAME,
      method: options.compress ? DEFLATED : STORED,
      crc32: zlib.crc32(bytes),
      compressedSize: data.length,
      size: bytes.length,
      offset: this.offset,
      mtime: options.mtime,
      mode: options.mode,
      zip64: this.options.forceZip64 === true,
    };
    this.records.push(record);
    const header = localHeader(record, true);
    this.offset += header.length + data.length;
    return Buffer.concat([header, data]);
  }

  /** The local header of a file stored as it is, whose CRC-32 is known only after its bytes. */
  beginStream(name: string, size: number, options: ZipEntryOptions): Buffer {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`bad size for ${JSON.stringify(name)}`);
    const record: CentralRecord = {
      name: this.checkName(name),
      flags: FLAG_UTF8_NAME | FLAG_DATA_DESCRIPTOR,
      method: STORED,
      crc32: 0,
      compressedSize: size,
      size,
      offset: this.offset,
      mtime: options.mtime,
      mode: options.mode,
      zip64: this.options.forceZip64 === true,
    };
    this.open = { record, startedAt: this.offset };
    const header = localHeader(record, false);
    this.offset += header.length;
    return header;
  }

  /** After the streamed file's bytes: its data descriptor. */
  endStream(crc32: number): Buffer {
    if (this.open === null) throw new Error('no streamed entry is open');
    const { record } = this.open;
    record.crc32 = crc32 >>> 0;
    this.records.push(record);
    this.open = null;
    const descriptor = dataDescriptor(record);
    this.offset += record.size + descriptor.length;
    return descriptor;
  }

  /** The central directory and end records: the last bytes of the archive. */
  finish(): Buffer {
    if (this.ended || this.open !== null) throw new Error('the zip cannot be finished now');
    this.ended = true;
    const directoryOffset = this.offset;
    const directory = Buffer.concat(this.records.map(centralHeader));
    const tail = Buffer.concat([directory, endRecords(this.records.length, directoryOffset, directory.length, this.options.forceZip64 === true)]);
    this.offset += tail.length;
    return tail;
  }
}
