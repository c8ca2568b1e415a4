// Reads a zip for verification, trusting nothing in it: every entry name is decoded and checked
// by hand (UTF-8 only, one relative path, no "..", no backslash, no control characters), no
// duplicate (also after Unicode normalisation and case folding, which would collide on macOS
// and Windows), no symlink, device or encrypted entry, and each local header must name the same
// file as the central directory (else two unzip tools could extract two different bags).
import { close, open as openFd, read } from 'node:fs';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';

const CHUNK_BYTES = 1024 * 1024;
const MAX_ENTRIES = 10_000_000;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
const UNICODE_PATH_EXTRA = 0x7075;
const UNIX_HOST = 3;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

export class ZipStructureError extends Error {
  override name = 'ZipStructureError';
}

export type ZipItem = { name: string; size: number; isDirectory: boolean; entry: Entry };

/** Bytes [start, end) of an open file, in chunks of up to 1 MiB; destroying it leaves the fd open. */
class RangeStream extends Readable {
  private position: number;

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: CHUNK_BYTES });
    this.position = start;
  }

  override _read(): void {
    const length = Math.min(CHUNK_BYTES, this.end - this.position);
    if (length <= 0) {
      this.push(null);
      return;
    }
    read(this.fd, Buffer.allocUnsafe(length), 0, length, this.position, (error, bytesRead, buffer) => {
      if (error) return this.destroy(error);
      if (bytesRead === 0) return this.destroy(new Error('unexpected end of file'));
      this.position += bytesRead;
      this.push(buffer.subarray(0, bytesRead));
    });
  }
}

/** yauzl's reader over a file descriptor (its fs streams would close the fd when destroyed). */
class FileRangeReader extends yauzl.RandomAccessReader {
  constructor(private readonly fd: number) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return new RangeStream(this.fd, start, end);
  }

  override close(callback: (err: Error | null) => void): void {
    close(this.fd, callback);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(raw: Buffer, flags: number): string {
  const ascii = raw.every((byte) => byte < 0x80);
  if (!ascii && (flags & FLAG_UTF8) === 0) throw new ZipStructureError(`entry name ${JSON.stringify(raw.toString('latin1'))} is not marked as UTF-8`);
  try {
    return utf8.decode(raw);
  } catch {
    throw new ZipStructureError('entry name is not valid UTF-8');
  }
}

export function unsafeNameReason(name: string): string | null {
  if (name.length === 0) return 'empty name';
  if (/[\p{Cc}]/u.test(name)) return 'control character in name';
  if (name.includes('\\')) return 'backslash in name';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute path';
  const segments = name.split('/');
  if (name.endsWith('/')) segments.pop();
  for (const segment of segments) {
    if (segment === '..') return 'path traversal ("..")';
    if (segment === '' || segment === '.') return 'empty or "." path segment';
  }
  return null;
}

function checkEntry(entry: Entry): ZipItem {
  const raw = entry.fileNameRaw;
  const name = decodeName(raw, entry.generalPurposeBitFlag);
  const where = JSON.stringify(name);
  const unsafe = unsafeNameReason(name);
  if (unsafe !== null) throw new ZipStructureError(`${where}: ${unsafe}`);
  const unicodePath = entry.extraFields.find((field) => field.id === UNICODE_PATH_EXTRA);
  if (unicodePath !== undefined && !unicodePath.data.subarray(5).equals(raw)) {
    throw new ZipStructureError(`${where}: carries a second, different Unicode name`);
  }
  if ((entry.generalPurposeBitFlag & FLAG_ENCRYPTED) !== 0) throw new ZipStructureError(`${where}: encrypted entry`);
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw new ZipStructureError(`${where}: unsupported compression method ${entry.compressionMethod}`);
  }
  const isDirectory = name.endsWith('/');
  if (entry.versionMadeBy >>> 8 === UNIX_HOST) {
    const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
    if (type !== 0 && type !== (isDirectory ? S_IFDIR : S_IFREG)) {
      throw new ZipStructureError(`${where}: not a regular ${isDirectory ? 'directory' : 'file'} (symlink or special file)`);
    }
  }
  if (isDirectory && entry.uncompressedSize !== 0) throw new ZipStructureError(`${where}: directory with content`);
  return { name, size: entry.uncompressedSize, isDirectory, entry };
}

export class ZipArchive {
  private constructor(
    private readonly zip: ZipFile,
    readonly path: string,
    readonly sizeBytes: number,
    readonly items: readonly ZipItem[],
  ) {}

  /** Opens and checks the central directory; throws ZipStructureError on anything unsound. */
  static async open(path: string): Promise<ZipArchive> {
    const { size } = await stat(path);
    const fd = await promisify(openFd)(path, 'r');
    const reader = new FileRangeReader(fd);
    let zip: ZipFile;
    try {
      zip = await yauzl.fromRandomAccessReaderPromise(reader, size, {
        lazyEntries: true,
        autoClose: false,
        decodeStrings: false,
        validateEntrySizes: true,
      });
    } catch (error) {
      await promisify(close)(fd).catch(() => {});
      throw new ZipStructureError(`not a readable zip: ${(error as Error).message}`);
    }
    try {
      const items = await readCentralDirectory(zip);
      return new ZipArchive(zip, path, size, items);
    } catch (error) {
      zip.close();
      throw error instanceof ZipStructureError ? error : new ZipStructureError((error as Error).message);
    }
  }

  /** The entry's bytes, after checking that its local header names the same file. */
  async openStream(item: ZipItem): Promise<Readable> {
    let header;
    try {
      header = await this.zip.readLocalFileHeaderPromise(item.entry);
    } catch (error) {
      throw new ZipStructureError(`${JSON.stringify(item.name)}: ${(error as Error).message}`);
    }
    if (!header.fileName.equals(item.entry.fileNameRaw)) {
      throw new ZipStructureError(`${JSON.stringify(item.name)}: its local header names another file`);
    }
    if ((header.generalPurposeBitFlag & FLAG_ENCRYPTED) !== 0 || header.compressionMethod !== item.entry.compressionMethod) {
      throw new ZipStructureError(`${JSON.stringify(item.name)}: its local header disagrees with the central directory`);
    }
    const { compressedSize, uncompressedSize, compressionMethod } = item.entry;
    return new Promise((resolve, reject) => {
      this.zip.openReadStreamLowLevel(header.fileDataStart, compressedSize, 0, compressedSize, compressionMethod === 8, uncompressedSize, (err, stream) =>
        err ? reject(new ZipStructureError(`${JSON.stringify(item.name)}: ${err.message}`)) : resolve(stream),
      );
    });
  }

  /** The whole entry, refusing more than `maxBytes` (its declared size is checked while reading). */
  async read(item: ZipItem, maxBytes: number): Promise<Buffer> {
    if (item.size > maxBytes) throw new ZipStructureError(`${JSON.stringify(item.name)}: larger than ${maxBytes} bytes`);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openStream(item)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  close(): void {
    this.zip.close();
  }
}

function readCentralDirectory(zip: ZipFile): Promise<ZipItem[]> {
  if (zip.entryCount > MAX_ENTRIES) return Promise.reject(new ZipStructureError(`too many entries (${zip.entryCount})`));
  return new Promise((resolve, reject) => {
    const items: ZipItem[] = [];
    const exact = new Set<string>();
    const folded = new Map<string, string>();
    zip.on('entry', (entry: Entry) => {
      try {
        const item = checkEntry(entry);
        if (exact.has(item.name)) throw new ZipStructureError(`${JSON.stringify(item.name)}: duplicate entry`);
        const key = item.name.normalize('NFC').toLowerCase();
        const other = folded.get(key);
        if (other !== undefined) throw new ZipStructureError(`${JSON.stringify(item.name)} and ${JSON.stringify(other)} would be the same file on some systems`);
        exact.add(item.name);
        folded.set(key, item.name);
        items.push(item);
        zip.readEntry();
      } catch (error) {
        reject(error);
      }
    });
    zip.on('end', () => resolve(items));
    zip.on('error', (error: Error) => reject(new ZipStructureError(error.message)));
    zip.readEntry();
  });
}
