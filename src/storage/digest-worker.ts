// SHA-256 (and, when asked, CRC-32) of byte streams, computed on one worker thread that the
// whole process shares. Node hashes on the thread that calls it, and the main thread of an
// upload already spends its time receiving the bytes: on a second core the hash runs beside it.
// Bytes never cross by copy: each update names a range of shared memory (slot-ring.ts) that the
// caller leaves untouched until the update resolves. Updates of one stream are hashed in the
// order they were made (one thread, messages in order).
import { Worker } from 'node:worker_threads';

// Plain CommonJS with no imports of ours: it runs the same from src/ (tsx), dist/ and under tap.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { crc32 } = require('node:zlib');
const streams = new Map();
function handle(m) {
  if (m.op === 'open') return void streams.set(m.stream, { hash: createHash('sha256'), crc: m.crc32 ? 0 : null });
  if (m.op === 'close') return void streams.delete(m.stream);
  const s = streams.get(m.stream);
  if (!s) throw new Error('no such digest stream');
  if (m.op === 'digest') return { sha256: s.hash.copy().digest('hex'), crc32: s.crc };
  const bytes = new Uint8Array(m.memory, m.start, m.length);
  s.hash.update(bytes);
  if (s.crc !== null) s.crc = crc32(bytes, s.crc);
}
// A call that fails answers its caller alone: the worker serves every upload of the process.
parentPort.on('message', (m) => {
  try {
    const digest = handle(m);
    if (m.call !== undefined) parentPort.postMessage({ call: m.call, digest });
  } catch (error) {
    if (m.call !== undefined) parentPort.postMessage({ call: m.call, error: String(error && error.message) });
  }
});
`;

export interface StreamDigest {
  sha256: string;
  /** Null unless the stream was opened with `crc32`. */
  crc32: number | null;
}

type Pending = { resolve: (value: StreamDigest | undefined) => void; reject: (error: Error) => void };

class DigestWorker {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  failure: Error | null = null;

  constructor(private readonly onExit: () => void) {
    this.worker.unref();
    this.worker.on('message', (message: { call: number; digest?: StreamDigest; error?: string }) => {
      const call = this.pending.get(message.call);
      this.pending.delete(message.call);
      if (this.pending.size === 0) this.worker.unref();
      if (message.error !== undefined) call?.reject(new Error(message.error));
      else call?.resolve(message.digest);
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const call of this.pending.values()) call.reject(this.failure);
      this.pending.clear();
      this.onExit();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the digest worker exited (${code})`)));
  }

  newId(): number {
    return this.nextId++;
  }

  post(message: object): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(message);
  }

  call(message: object): Promise<StreamDigest | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    const call = this.newId();
    return new Promise((resolve, reject) => {
      // Referenced only while an answer is awaited: an idle worker never keeps the process alive.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(call, { resolve, reject });
      this.worker.postMessage({ ...message, call });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

let shared: DigestWorker | null = null;

function digestWorker(): DigestWorker {
  if (!shared || shared.failure) {
    const worker: DigestWorker = new DigestWorker(() => {
      if (shared === worker) shared = null;
    });
    shared = worker;
  }
  return shared;
}

/** Stops the shared worker (tests; a process that exits need not call it). */
export async function stopDigestWorker(): Promise<void> {
  const worker = shared;
  shared = null;
  await worker?.terminate();
}

/** A running SHA-256 (and CRC-32) on the shared worker. */
export class DigestStream {
  private readonly worker = digestWorker();
  private readonly id = this.worker.newId();
  private closed = false;

  constructor(options: { crc32?: boolean } = {}) {
    this.worker.post({ op: 'open', stream: this.id, crc32: options.crc32 === true });
  }

  /**
   * Adds `bytes` (a view of a SharedArrayBuffer) to the stream; resolves once they are hashed, and
   * `bytes` must not change before. Rejects if the worker died: the stream is then lost.
   */
  async update(bytes: Uint8Array): Promise<void> {
    if (!(bytes.buffer instanceof SharedArrayBuffer)) throw new TypeError('a digest update reads shared memory');
    if (this.closed) throw new Error('digest stream closed');
    // The shared memory itself goes with each update (a handle, not a copy): the worker keeps no
    // reference to a ring once its updates are done.
    await this.worker.call({ op: 'update', stream: this.id, memory: bytes.buffer, start: bytes.byteOffset, length: bytes.byteLength });
  }

  /** The digest of everything added so far; the stream goes on. */
  async digest(): Promise<StreamDigest> {
    if (this.closed) throw new Error('digest stream closed');
    return (await this.worker.call({ op: 'digest', stream: this.id }))!;
  }

  /** Forgets the stream (its state in the worker). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.worker.failure) this.worker.post({ op: 'close', stream: this.id });
  }
}
