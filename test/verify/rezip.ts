// Rewrites a (small) bundle with yazl after changing its files, as an attacker would.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { ZipFile } from 'yazl';

export type Files = Map<string, Buffer>;

export async function readZip(path: string): Promise<Files> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const files: Files = new Map();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          files.set(entry.fileName, Buffer.concat(chunks));
          zip.readEntry();
        });
        stream.on('error', reject);
      });
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  zip.close();
  return files;
}

export async function writeZip(path: string, files: Files, options: { mode?: (name: string) => number | undefined; directories?: string[]; zip64?: boolean } = {}): Promise<void> {
  const zip = new ZipFile();
  for (const dir of options.directories ?? []) zip.addEmptyDirectory(dir);
  for (const [name, bytes] of files) zip.addBuffer(bytes, name, { mode: options.mode?.(name), forceZip64Format: options.zip64 === true });
  zip.end({ forceZip64Format: options.zip64 === true, comment: '' });
  await pipeline(zip.outputStream as NodeJS.ReadableStream, createWriteStream(path));
}

export function flipByte(bytes: Buffer, at = Math.floor(bytes.length / 2)): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}
