// The verifier trusts nothing in the zip: unsafe names, duplicates, links and ambiguous headers
// are refused before any content is believed.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBundle } from '../../src/verify/verify-bundle.ts';
import { unsafeNameReason } from '../../src/verify/zip-archive.ts';
import { makeFixture, writeBundle } from '../exports/fixture.ts';
import { readZip, writeZip } from './rezip.ts';
import type { Files } from './rezip.ts';

/** Replaces every occurrence (or only the last one: the central directory) of a name's bytes. */
function patchName(t: Test, zip: Buffer, from: string, to: Buffer, which: 'all' | 'central' = 'all'): Buffer {
  const needle = Buffer.from(from);
  t.equal(needle.length, to.length, 'same length patch');
  const out = Buffer.from(zip);
  const positions: number[] = [];
  for (let at = out.indexOf(needle); at >= 0; at = out.indexOf(needle, at + 1)) positions.push(at);
  t.ok(positions.length >= 2, `found ${from} in local and central headers`);
  for (const at of which === 'all' ? positions : positions.slice(-1)) to.copy(out, at);
  return out;
}

t.test('unsafe zips are refused, naming the entry', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-zip-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fixture = await makeFixture([{ name: 'a.txt', bytes: Buffer.from('evidence') }]);
  t.teardown(fixture.cleanup);
  const good = join(dir, 'good.zip');
  await writeBundle(fixture.plan, { path: good, signingKey: fixture.key });
  const bag = await readZip(good);

  const withExtra = (name: string, bytes = Buffer.from('x')): Files => new Map([...bag, [name, bytes]]);
  const cases: [string, () => Promise<Buffer>, RegExp][] = [
    [
      'path traversal',
      async () => patchName(t, await zipOf(withExtra('data/zz/evil')), 'data/zz/evil', Buffer.from('../../x/evil')),
      /"\.\.\/\.\.\/x\/evil": path traversal/,
    ],
    ['absolute path', async () => patchName(t, await zipOf(withExtra('data/zz/evil')), 'data/zz/evil', Buffer.from('/tmp/zz/evil')), /absolute path/],
    ['backslash', async () => patchName(t, await zipOf(withExtra('data/zz/evil')), 'data/zz/evil', Buffer.from('data\\zz\\evil')), /backslash/],
    ['control character', async () => patchName(t, await zipOf(withExtra('data/zz/evil')), 'data/zz/evil', Buffer.from('data/zz/ev\nl')), /control character/],
    ['invalid UTF-8', async () => patchName(t, await zipOf(withExtra('data/zz/évil')), 'data/zz/évil', Buffer.from('data/zz/\xff\xfevil', 'latin1')), /not valid UTF-8/],
    [
      'non-ASCII name not marked UTF-8',
      async () => {
        const zip = await zipOf(withExtra('data/zz/évil'));
        // Clear the UTF-8 flag (bit 11) in the central directory record of that entry.
        const at = zip.lastIndexOf(Buffer.from('data/zz/évil')) - 46;
        zip.writeUInt16LE(zip.readUInt16LE(at + 8) & ~0x800, at + 8);
        return zip;
      },
      /is not marked as UTF-8/,
    ],
    [
      'local header naming another file',
      async () => patchName(t, await zipOf(withExtra('data/zz/evil')), 'data/zz/evil', Buffer.from('data/zz/good'), 'central'),
      /^"data\/zz\/good": its local header names another file$/,
    ],
    ['duplicate entry', async () => zipOf(bag, { duplicate: 'data/records/incidents.json' }), /"data\/records\/incidents.json": duplicate entry/],
    ['names equal but for case', async () => zipOf(withExtra('data/Records/incidents.json')), /would be the same file on some systems/],
    ['symlink', async () => zipOf(withExtra('data/link'), { mode: (n) => (n === 'data/link' ? 0o120777 : undefined) }), /"data\/link": not a regular file/],
    ['not a zip', async () => Buffer.from('PK but not really'), /not a readable zip/],
    ['truncated', async () => (await readFile(good)).subarray(0, 2000), /not a readable zip/],
  ];
  for (const [name, make, problem] of cases) {
    const path = join(dir, `${name.replaceAll(' ', '-')}.zip`);
    await writeFile(path, await make());
    const report = await verifyBundle(path);
    t.equal(report.ok, false, `${name}: refused`);
    t.equal(report.firstFailure?.check, 'zip structure', `${name}: zip structure`);
    t.match(report.firstFailure?.problem, problem, `${name}: ${report.firstFailure?.problem}`);
  }

  // The bag inside a top folder is not what the contract promises.
  const nested = join(dir, 'nested.zip');
  await writeZip(nested, new Map([...bag].map(([n, b]) => [`bundle/${n}`, b])));
  const report = await verifyBundle(nested);
  t.equal(report.firstFailure?.check, 'bag layout');
  t.match(report.firstFailure?.problem, /the zip's root is not a bag: found bundle\/bagit.txt inside a folder/);

  t.equal(unsafeNameReason('data/./x'), 'empty or "." path segment');
  t.equal(unsafeNameReason('data//x'), 'empty or "." path segment');
  t.equal(unsafeNameReason('C:/x'), 'absolute path');
  t.equal(unsafeNameReason(''), 'empty name');
  t.equal(unsafeNameReason('data/x/'), null);

  async function zipOf(files: Files, options: { duplicate?: string; mode?: (n: string) => number | undefined } = {}): Promise<Buffer> {
    const path = join(dir, 'scratch.zip');
    if (options.duplicate !== undefined) {
      const { ZipFile } = await import('yazl');
      const { createWriteStream } = await import('node:fs');
      const { pipeline } = await import('node:stream/promises');
      const zip = new ZipFile();
      for (const [n, b] of files) zip.addBuffer(b, n);
      zip.addBuffer(Buffer.from('[]'), options.duplicate);
      zip.end();
      await pipeline(zip.outputStream as NodeJS.ReadableStream, createWriteStream(path));
    } else await writeZip(path, files, { mode: options.mode });
    return readFile(path);
  }
});
