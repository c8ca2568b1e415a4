// The default blob store: files under `<dataDir>/blobs`, content-addressed. Temporary files live
// in `<root>/tmp` on the same filesystem, so a commit is a link (never clobbers) plus an unlink.
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, pipeline, type Readable } from 'node:stream';
import { DIRECT_IO_ALIGNMENT, isDirectIoReady } from './slot-ring.ts';
import { noteYoungGarbage } from './young-garbage.ts';
import { hashFile } from './ingest.ts';
import { BlobNotFoundError, type BlobStore, type ByteRange, type CommitResult, type TempBlob, storageKeyOf } from './blob-store.ts';

export const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Bytes written between two background flushes (see FileAppender). Measured on this project's
 * virtual disk (1 GiB of 2 MiB direct writes, then fsync): a flush every 32 MiB slowed the disk
 * by ~8 %, every 64 MiB by 0-8 %, and left the closing fsync ~40 ms instead of 0.6-0.7 s.
 */
export const EARLY_SYNC_BYTES = 64 * 1024 * 1024;

/** Set once a filesystem refused direct I/O: every later file is written through the page cache. */
let directIoRefused = constants.O_DIRECT === undefined;

/** Opens `path` (`flags`: O_WRONLY or O_RDONLY) for direct I/O; null where the filesystem does not offer it. */
async function openForDirectIo(path: string, flags: number): Promise<FileHandle | null> {
  if (directIoRefused) return null;
  try {
    return await open(path, flags | constants.O_DIRECT);
  } catch (error) {
    if (!isCode(error, 'EINVAL')) throw error;
    directIoRefused = true;
    return null;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset, position + offset);
    offset += bytesWritten;
  }
}

/**
 * Appends to a file from `start` on, with positioned writes (several may be in flight; each
 * takes its position when asked for). Bytes in aligned memory at an aligned position
 * (slot-ring.ts) go to the disk directly, past the page cache; the rest (the first bytes up to
 * an aligned position, the last partial block, anyone else's buffers) through it. With
 * `earlySync`, every EARLY_SYNC_BYTES a background fdatasync starts (one at a time), so the disk
 * makes bytes durable while more arrive and the closing fsync has little left to do. Direct
 * writes count too: a disk with a volatile write cache (most SSDs, a virtual disk whose host
 * caches) acknowledges them before they are durable, and only a flush makes them so; on this
 * project's virtual disk the closing fsync of 1 GiB written directly took 0.6-0.75 s without
 * early flushes. A failed early flush is kept and thrown by sync() and by close(): on Linux an
 * fsync error is reported once per open file, so it must not be swallowed here and missed there.
 */
export class FileAppender {
  private position: number;
  private unsynced = 0;
  private flushing: Promise<void> | null = null;
  private flushError: unknown = null;
  /** False once a write by direct I/O was refused: the rest go through the page cache. */
  private directUsable: boolean;

  /** Use FileAppender.open; `direct` is the same file opened with O_DIRECT, or null. */
  constructor(
    private readonly handle: FileHandle,
    private readonly direct: FileHandle | null,
    start: number,
    private readonly earlySync: boolean,
  ) {
    this.position = start;
    this.directUsable = direct !== null;
  }

  /**
   * Opens `path` for appending at `start` (`create`: a new file, mode 0600, which must not exist;
   * `directIo`: aligned writes past the page cache where the filesystem allows it).
   */
  static async open(path: string, options: { start: number; create?: boolean; earlySync: boolean; directIo: boolean }): Promise<FileAppender> {
    const handle = await open(path, options.create ? 'wx' : 'r+', 0o600);
    try {
      const direct = options.directIo ? await openForDirectIo(path, constants.O_WRONLY) : null;
      return new FileAppender(handle, direct, options.start, options.earlySync);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    const position = this.position;
    this.position += chunk.byteLength;
    if (this.directUsable && position % DIRECT_IO_ALIGNMENT === 0 && isDirectIoReady(chunk)) {
      try {
        await writeAll(this.direct!, chunk, position);
        return this.wrote(chunk.byteLength);
      } catch (error) {
        // A filesystem that opened the file for direct I/O may still refuse a write: page cache then.
        if (!isCode(error, 'EINVAL')) throw error;
        this.directUsable = false;
      }
    }
    await writeAll(this.handle, chunk, position);
    this.wrote(chunk.byteLength);
  }

  private wrote(bytes: number): void {
    this.unsynced += bytes;
    if (this.earlySync && this.unsynced >= EARLY_SYNC_BYTES && !this.flushing) {
      this.unsynced = 0;
      this.flushing = this.handle.datasync().then(
        () => {
          this.flushing = null;
        },
        (error: unknown) => {
          this.flushing = null;
          this.flushError ??= error;
        },
      );
    }
  }

  /** Waits for a background flush (its failure is thrown), then fsyncs (the file, whichever handle wrote it). */
  async sync(): Promise<void> {
    await this.settle();
    if (this.flushError) throw this.flushError;
    await this.handle.sync();
  }

  /** Waits for a background flush and closes the file; then throws the flush's failure, if any. */
  async close(): Promise<void> {
    await this.settle();
    await Promise.all([this.handle.close(), this.direct?.close()]);
    if (this.flushError) throw this.flushError;
  }

  private async settle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }
}

class FsTempBlob implements TempBlob {
  finished = false;
  constructor(
    readonly id: string,
    readonly path: string,
    private appender: FileAppender | null,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (!this.appender) throw new Error('temporary blob is closed');
    await this.appender.write(chunk);
  }

  async finish(): Promise<void> {
    if (this.finished) return;
    const appender = this.appender;
    if (appender) {
      await appender.sync();
      this.appender = null;
      await appender.close();
    }
    this.finished = true;
  }

  async close(): Promise<void> {
    const appender = this.appender;
    this.appender = null;
    await appender?.close().catch(() => {});
  }
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}

export class FilesystemBlobStore implements BlobStore {
  readonly tmpDir: string;

  private readonly directIo: boolean;

  constructor(
    readonly root: string,
    options: { directIo?: boolean } = {},
  ) {
    this.tmpDir = join(root, 'tmp');
    this.directIo = options.directIo ?? true;
  }

  pathOf(sha256: string): string {
    return join(this.root, storageKeyOf(sha256));
  }

  private own(temp: TempBlob): FsTempBlob {
    if (!(temp instanceof FsTempBlob)) throw new Error('temporary blob from another store');
    return temp;
  }

  async createTemp(): Promise<TempBlob> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    const id = randomUUID();
    const path = join(this.tmpDir, id);
    return new FsTempBlob(id, path, await FileAppender.open(path, { start: 0, create: true, earlySync: true, directIo: this.directIo }));
  }

  async adoptLocalFile(path: string): Promise<TempBlob> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    const id = randomUUID();
    const target = join(this.tmpDir, id);
    // The file keeps its writer's times; from now on it is a temporary blob in use, which
    // sweepTemps must not take for an abandoned one.
    const now = new Date();
    await utimes(path, now, now);
    try {
      await rename(path, target);
    } catch (error) {
      if (!isCode(error, 'EXDEV')) throw error;
      await copyFile(path, target, constants.COPYFILE_EXCL);
      const handle = await open(target, 'r+');
      await handle.sync().finally(() => handle.close());
      await unlink(path);
    }
    const temp = new FsTempBlob(id, target, null);
    temp.finished = true;
    return temp;
  }

  async commit(temp: TempBlob, sha256: string): Promise<CommitResult> {
    const own = this.own(temp);
    if (!own.finished) await own.finish();
    const storageKey = storageKeyOf(sha256);
    const target = join(this.root, storageKey);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Blobs are never written again; read-only makes an accidental write fail loudly.
    await chmod(own.path, 0o400);
    try {
      await link(own.path, target);
    } catch (error) {
      if (isCode(error, 'EEXIST')) return { storageKey, created: false };
      throw error;
    }
    await unlink(own.path);
    await fsyncDirectory(dir);
    await fsyncDirectory(this.tmpDir);
    return { storageKey, created: true };
  }

  async sweepTemps(before: Date): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => null);
      if (!info?.isFile() || info.mtimeMs >= before.getTime()) continue;
      try {
        await unlink(path);
        removed++;
      } catch (error) {
        if (!isCode(error, 'ENOENT')) throw error;
      }
    }
    return removed;
  }

  async abort(temp: TempBlob): Promise<void> {
    const own = this.own(temp);
    await own.close();
    await unlink(own.path).catch((error: unknown) => {
      if (!isCode(error, 'ENOENT')) throw error;
    });
  }

  async open(sha256: string, range?: ByteRange): Promise<Readable> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(sha256), 'r');
    } catch (error) {
      if (isCode(error, 'ENOENT')) throw new BlobNotFoundError(`no blob ${sha256}`);
      throw error;
    }
    const file = handle.createReadStream({
      highWaterMark: READ_CHUNK_BYTES,
      ...(range ? { start: range.start, end: range.end } : {}),
      autoClose: true,
    });
    // Each read is a new buffer, dead once the reader is done with it: noted, like an upload's.
    const noted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        noteYoungGarbage(chunk.byteLength);
        done(null, chunk);
      },
    });
    return pipeline(file, noted, () => {});
  }

  /**
   * Hashes a blob where it lies (hashFile): read slot by slot into the ring's aligned memory, by
   * direct I/O where the filesystem allows it, so that re-reading every blob (a review, `custodia
   * check`) neither copies it through a stream nor pushes the database out of the page cache.
   */
  async digest(sha256: string): Promise<{ sha256: string; sizeBytes: number }> {
    const path = this.pathOf(sha256);
    const notFound = (error: unknown): never => {
      throw isCode(error, 'ENOENT') ? new BlobNotFoundError(`no blob ${sha256}`) : error;
    };
    const direct = this.directIo ? await openForDirectIo(path, constants.O_RDONLY).catch(notFound) : null;
    if (direct) {
      try {
        return await hashFile(direct, true);
      } catch (error) {
        // A filesystem that opened the file for direct I/O may still refuse a read: page cache then.
        if (!isCode(error, 'EINVAL')) throw error;
      } finally {
        await direct.close();
      }
    }
    const handle = await open(path, 'r').catch(notFound);
    try {
      return await hashFile(handle, false);
    } finally {
      await handle.close();
    }
  }

  async stat(sha256: string): Promise<{ sizeBytes: number } | null> {
    try {
      const info = await stat(this.pathOf(sha256));
      return { sizeBytes: info.size };
    } catch (error) {
      if (isCode(error, 'ENOENT')) return null;
      throw error;
    }
  }

  async exists(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== null;
  }

  async remove(sha256: string): Promise<void> {
    try {
      await unlink(this.pathOf(sha256));
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
    }
  }
}
