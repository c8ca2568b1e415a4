// The tus 1.0 protocol (core, creation, termination, expiration) by @tus/server over a FileStore in
// `<data dir>/uploads`: the data file is named by the upload's id and its tus info sits beside it
// as `<id>.json`. Our routes authenticate, authorise and load the upload first, then hand the raw
// request to tus (reply.hijack()); the id tus works on is always the one our route checked, never
// one parsed again from the URL.
import { mkdir, open, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { ERRORS, MemoryLocker, Server, type Upload } from '@tus/server';
import type { Config } from '../../config.ts';
import { type DigestStream, FileAppender, digestFilePrefix, writeHashed } from '../../storage/index.ts';
import { type SlotPump, pumpIntoSlots } from '../../storage/slot-pump.ts';
import { errorCodeOf } from '../../http/errors.ts';
import { isStorageFull } from '../../storage/health.ts';
import { LOWERCASE_UUID } from '../../http/uuid.ts';

export function uploadDirectory(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'uploads');
}

function fileOf(directory: string, id: string): string {
  if (!LOWERCASE_UUID.test(id)) throw new Error('not an upload id');
  return join(directory, id);
}

/** Where the bytes of an upload are (for `complete`, which hands the file to the blob store). */
export function uploadDataPath(directory: string, id: string): string {
  return fileOf(directory, id);
}

/** Removes an upload's data and tus info files; absent files are not an error. */
export async function removeUploadFiles(directory: string, id: string): Promise<void> {
  const data = fileOf(directory, id);
  await rm(data, { force: true });
  await rm(`${data}.json`, { force: true });
}

/** Removes only the tus info file (after `complete` moved the data file into the blob store). */
export async function removeUploadInfo(directory: string, id: string): Promise<void> {
  await rm(`${fileOf(directory, id)}.json`, { force: true });
}

/** Makes the received bytes durable before they become evidence (tus itself never fsyncs). */
export async function syncUploadData(directory: string, id: string): Promise<void> {
  const handle = await open(fileOf(directory, id), 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The digest of an upload's first `length` bytes, as they were written. */
interface RunningDigest {
  digest: DigestStream;
  length: number;
  /** The last PATCH's file closing once its last flush is done: its failure, or null. */
  closing: Promise<unknown>;
}

const CLOSED: Promise<unknown> = Promise.resolve(null);

/** How the store opens an upload's file for a PATCH (tests pass one whose flushes fail). */
export type OpenAppender = typeof FileAppender.open;

/**
 * tus's FileStore, except that a PATCH's bytes are hashed as they are written (writeHashed, as
 * for a multipart upload, direct I/O included), so that `complete` need not read the whole file
 * again. The hash of the bytes so far lives in this process only: a PATCH that finds none at its
 * offset (the first after a restart) hashes the prefix already on disk once, then goes on from
 * there; a write that fails drops it, and the next PATCH (or `complete`) rebuilds it from the
 * disk. tus's locker serialises the PATCHes of one upload, so two writes never share a digest.
 *
 * A PATCH does not wait for its file's last early flush (up to EARLY_SYNC_BYTES, tens of ms on
 * a disk with a volatile cache) before it answers: the client sends the next PATCH meanwhile
 * (bench:ingest, 64 MiB PATCHes: ~14 % faster). The next PATCH, or `complete`, learns how that
 * flush went before it answers in turn, and fails if it failed, dropping the hash; the request
 * after it rebuilds the hash from what is on disk. Nothing is lost: `complete` fsyncs the whole
 * file again before the bytes become evidence.
 */
export class HashingFileStore extends FileStore {
  private readonly running = new Map<string, RunningDigest>();

  constructor(
    private readonly dir: string,
    expirationPeriodInMilliseconds: number,
    private readonly directIo: boolean,
    private readonly openAppender: OpenAppender = (path, options) => FileAppender.open(path, options),
  ) {
    super({ directory: dir, expirationPeriodInMilliseconds });
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const path = fileOf(this.dir, id);
    // Out of the map while the write runs: a failure leaves nothing that could disagree with the file.
    let running = this.running.get(id);
    this.running.delete(id);
    try {
      if (!running || running.length !== offset) {
        running?.digest.close();
        running = { digest: await digestFilePrefix(path, offset), length: offset, closing: running?.closing ?? CLOSED };
      }
      const previous = running.closing;
      const appender = await this.openAppender(path, { start: offset, earlySync: true, directIo: this.directIo });
      try {
        const { sizeBytes } = await writeHashed(readable, appender, running.digest, { maxBytes: Number.MAX_SAFE_INTEGER, headBytes: 0, startOffset: offset });
        running.length += sizeBytes;
      } catch (error) {
        await appender.close().catch(() => {});
        throw error;
      }
      running.closing = appender.close().then(
        () => null,
        (error: unknown) => error,
      );
      const earlier = await previous;
      if (earlier !== null) {
        await running.closing;
        throw earlier;
      }
    } catch (error) {
      running?.digest.close();
      throw writeFailure(error);
    }
    this.running.set(id, running);
    return running.length;
  }

  override async remove(id: string): Promise<void> {
    this.forget(id);
    await super.remove(id);
  }

  /** The SHA-256 of the first `length` bytes written to an upload, when this process hashed exactly those. */
  async sha256Of(id: string, length: number): Promise<string | null> {
    const running = this.running.get(id);
    if (!running || running.length !== length) return null;
    const failed = await running.closing;
    if (failed !== null) {
      // Answered once: the retry reads the file again, as it is on disk.
      this.forget(id);
      throw new Error('the last write of this upload may not have reached the disk', { cause: failed });
    }
    return (await running.digest.digest()).sha256;
  }

  forget(id: string): void {
    this.running.get(id)?.digest.close();
    this.running.delete(id);
  }
}

/** A tus error (status and body) for a PATCH whose bytes could not be written; the cause stays for the log. */
interface WriteFailure {
  status_code: number;
  body: string;
  cause: unknown;
}

const STORAGE_FULL = 'The evidence storage is full.\n';

function writeFailure(cause: unknown): WriteFailure {
  if (isStorageFull(cause)) return { status_code: 503, body: STORAGE_FULL, cause };
  return { ...ERRORS.FILE_WRITE_ERROR, cause };
}

/** What our route decided about the request it hands over. */
export interface TusRequestContext {
  uploadId: string;
  /** Creation only: records the upload (called once tus has checked the headers, before the file exists). */
  onCreate?: (upload: Upload) => Promise<void>;
}

export interface TusLog {
  error(object: object, message: string): void;
}

export interface TusBridge {
  readonly directory: string;
  /** Serialises requests on one upload id (PATCH, HEAD, DELETE, and `complete`). */
  readonly locker: MemoryLocker;
  handle(request: IncomingMessage, response: ServerResponse, context: TusRequestContext): Promise<void>;
  /** The offset and length tus knows for an upload (null when its files are gone). */
  progress(id: string): Promise<{ offset: number; length: number | undefined } | null>;
  /**
   * The SHA-256 of an upload's first `length` bytes when this process hashed exactly those as it
   * wrote them; null when it did not (a failed write): then the file must be read again.
   */
  sha256Of(id: string, length: number): Promise<string | null>;
  /** Drops what this process keeps about an upload (once it became evidence). */
  forget(id: string): void;
}

/**
 * The body of a Node request as a web stream of ring slots, filled as the socket delivers
 * (slot-pump.ts): tus passes each chunk through four streams of its own (a web-to-Node adapter, a
 * PassThrough, its size limiter, then our store), which per 2 MiB slot instead of per 64 KiB read
 * costs a thirtieth as much (bench:ingest: ~0.6 s less CPU per GiB). The store writes and hashes
 * each slot where it is (writeHashed) and releases it. `startOffset`, where the first byte lands
 * in the file, lets the first slot end on an aligned position. A client that goes away ends the
 * stream where it stopped, as @tus/server does for its Node requests: the bytes that arrived are
 * kept and the upload resumes after them.
 */
export function bodyStream(request: IncomingMessage, startOffset: number): ReadableStream<Uint8Array> {
  let pump: SlotPump | null = null;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      pump = pumpIntoSlots(request, startOffset, { slot: (bytes) => controller.enqueue(bytes), end: () => controller.close() });
    },
    cancel() {
      pump?.stop();
    },
  });
}

/** Where a request's body lands in the upload's file: its Upload-Offset (tus refuses the request before reading it when that is wrong). */
function bodyOffset(request: IncomingMessage): number {
  const offset = Number(request.headers['upload-offset'] ?? 0);
  return Number.isSafeInteger(offset) && offset >= 0 ? offset : 0;
}

/** The Node request as a web request for tus (its body is not read yet). */
function webRequestOf(request: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  const method = request.method ?? 'GET';
  const body = method === 'GET' || method === 'HEAD' ? null : bodyStream(request, bodyOffset(request));
  return new Request(new URL(request.url ?? '/', 'http://localhost'), { method, headers, body, duplex: 'half' } as RequestInit);
}

async function sendResponse(response: ServerResponse, answer: Response): Promise<void> {
  const body = answer.body ? Buffer.from(await answer.arrayBuffer()) : null;
  response.writeHead(answer.status, Object.fromEntries(answer.headers));
  response.end(body);
}

export async function createTusBridge(options: { directory: string; path: string; maxBytes: number; ttlSeconds: number; directIo: boolean; log: TusLog }): Promise<TusBridge> {
  const { directory } = options;
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const contexts = new WeakMap<Request, TusRequestContext>();
  const contextOf = (request: Request): TusRequestContext => {
    const context = contexts.get(request);
    if (!context) throw { status_code: 404, body: 'Not found\n' };
    return context;
  };
  const store = new HashingFileStore(directory, options.ttlSeconds * 1000, options.directIo);
  // Every upload declares its length at creation (the row records it): no deferred length.
  store.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration'];
  const locker = new MemoryLocker();
  const server = new Server({
    path: options.path,
    datastore: store,
    locker,
    relativeLocation: true,
    // The rest of the API sends no CORS headers; neither does tus.
    allowedOrigins: () => false,
    maxSize: options.maxBytes,
    namingFunction: (request) => contextOf(request).uploadId,
    getFileIdFromRequest: (request) => contextOf(request).uploadId,
    onUploadCreate: async (request, upload) => {
      await contextOf(request).onCreate?.(upload);
      return {};
    },
    // tus answers an unexpected error with its message, which may name a local path: never that.
    // Failures on our side are logged with their cause (a write's is kept by writeFailure).
    onResponseError: (_request, error) => {
      if ('status_code' in error && error.status_code < 500) return undefined;
      const cause = ('cause' in error ? error.cause : error) as { message?: unknown; name?: unknown } | null;
      const code = errorCodeOf(cause);
      const fields = { err: { message: cause?.message, name: cause?.name, code }, errorCode: code };
      if (isStorageFull(cause)) {
        options.log.error(fields, 'the evidence storage is full');
        return { status_code: 503, body: STORAGE_FULL };
      }
      options.log.error(fields, 'tus request failed');
      return { status_code: 500, body: 'Internal error\n' };
    },
  });

  return {
    directory,
    locker,
    async handle(request, response, context) {
      const web = webRequestOf(request);
      contexts.set(web, context);
      await sendResponse(response, await server.handleWeb(web));
    },
    async progress(id) {
      try {
        const upload = await store.getUpload(id);
        return { offset: upload.offset, length: upload.size };
      } catch {
        return null;
      }
    },
    sha256Of: (id, length) => store.sha256Of(id, length),
    forget: (id) => store.forget(id),
  };
}
