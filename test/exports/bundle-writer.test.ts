import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { generateSigningKey } from '../../src/crypto/index.ts';
import { assembleBundle, bundleEvidencePath, BundlePlanError, EvidenceIntegrityError } from '../../src/modules/exports/bundle/bundle-writer.ts';
import { csvField, evidenceCsv } from '../../src/modules/exports/bundle/evidence-csv.ts';
import { ZipWriter } from '../../src/modules/exports/bundle/zip-writer.ts';
import { safeFileName } from '../../src/modules/exports/bundle/safe-name.ts';
import { STANDARD_TOOL_COMMANDS } from '../../src/modules/exports/bundle/verify-instructions.ts';
import { custodia, makeFixture, verifyInProcess, writeBundle } from './fixture.ts';

const run = promisify(execFile);
async function zipEntries(path: string): Promise<Map<string, { method: number; size: number }>> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const entries = new Map<string, { method: number; size: number }>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      entries.set(e.fileName, { method: e.compressionMethod, size: e.uncompressedSize });
      zip.readEntry();
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  zip.close();
  return entries;
}

t.test('safe file names', async (t) => {
  const cases: [string | null, string][] = [
    ['photo.jpg', 'photo.jpg'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\Olena Petrenko\\Desktop\\clip.mp4', 'clip.mp4'],
    ['..', 'file'],
    ['', 'file'],
    [null, 'file'],
    ['.bashrc', 'bashrc'],
    ['  report .pdf. ', 'report.pdf'],
    ['con.txt', '_con.txt'],
    ['LPT1', '_LPT1'],
    ['a\u0000b\nc\r\td.png', 'ab c d.png'],
    ['invoice\u202Egpj.exe', 'invoicegpj.exe'],
    ['what?<>:"|*%.doc', 'what________.doc'],
    ['شهادة الشاهد.txt', 'شهادة الشاهد.txt'],
    ['Свідчення.docx', 'Свідчення.docx'],
    ['e\u0301te\u0301.jpg', 'été.jpg'],
  ];
  for (const [input, expected] of cases) t.equal(safeFileName(input), expected, JSON.stringify(input));
  const long = safeFileName(`${'ж'.repeat(200)}.jpeg`);
  t.ok(Buffer.byteLength(long) <= 120, 'capped in bytes');
  t.ok(long.endsWith('.jpeg'), 'extension kept');
  t.equal(safeFileName('👩🏽‍⚖️'.repeat(40)).length > 0, true);
  t.notMatch(safeFileName('👩🏽‍⚖️'.repeat(40)), /\uFFFD/, 'no broken grapheme');
});

t.test('evidence CSV is RFC 4180 and defuses formulas', async (t) => {
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('two\nlines'), '"two\nlines"');
  t.equal(csvField('=1+1'), "'=1+1");
  t.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  t.equal(csvField(-5), '-5', 'numbers are not text');
  t.equal(csvField(null), '');
  const csv = evidenceCsv([]);
  t.equal(csv, 'Identifier,Title,Date,Type,Source,Acquisition method,Collector,SHA-256,Size (bytes),Custody summary,Review status\r\n');
});

/** The zip yazl writes for these entries (buffers deflated or not, streams of known size). */
type LayoutEntry = { name: string; bytes: Buffer; compress: boolean } | { name: string; stream: Buffer };

async function yazlZip(entries: LayoutEntry[], options: { forceZip64: boolean }): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const mtime = new Date('2026-11-25T10:00:00.000Z');
  for (const e of entries) {
    if ('bytes' in e) zip.addBuffer(e.bytes, e.name, { compress: e.compress, mtime, mode: 0o100644, forceZip64Format: options.forceZip64 });
    else zip.addReadStream(Readable.from([e.stream]), e.name, { size: e.stream.length, compress: false, mtime, mode: 0o100644, forceZip64Format: options.forceZip64 });
  }
  zip.end({ forceZip64Format: options.forceZip64 } as yazl.EndOptions);
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

t.test('the zip layout is byte for byte what yazl writes', async (t) => {
  const entries: LayoutEntry[] = [
    { name: 'bagit.txt', bytes: Buffer.from('BagIt-Version: 1.0\n'.repeat(20)), compress: true },
    { name: 'data/custody/checkpoint.sig', bytes: Buffer.alloc(64, 3), compress: false },
    { name: 'data/evidence/x/شهادة.txt', stream: Buffer.from('نص الشهادة\n'.repeat(1000)) },
    { name: 'data/evidence/y/empty', stream: Buffer.alloc(0) },
    { name: 'data/records/incidents.json', bytes: Buffer.from('[]\n'), compress: true },
  ];
  const ours = (forceZip64: boolean): Buffer => {
    const zip = new ZipWriter(forceZip64 ? { forceZip64: true } : {});
    const options = { mtime: new Date('2026-11-25T10:00:00.000Z'), mode: 0o100644 };
    const parts: Buffer[] = [];
    for (const e of entries) {
      if ('bytes' in e) parts.push(zip.addBuffer(e.name, e.bytes, { ...options, compress: e.compress }));
      else parts.push(zip.beginStream(e.name, e.stream.length, options), e.stream, zip.endStream(zlib.crc32(e.stream)));
    }
    parts.push(zip.finish());
    const bytes = Buffer.concat(parts);
    t.equal(zip.offset, bytes.length, 'offset is the length written');
    return bytes;
  };
  t.ok(ours(false).equals(await yazlZip(entries, { forceZip64: false })), 'the same bytes');
  t.ok(ours(true).equals(await yazlZip(entries, { forceZip64: true })), 'the same bytes in ZIP64 form');
  const dir = await mkdtemp(join(tmpdir(), 'custodia-zip-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const zip64 of [false, true]) {
    const path = join(dir, `layout-${zip64}.zip`);
    await writeFile(path, ours(zip64));
    const tested = await run('unzip', ['-t', path]);
    t.match(tested.stdout, /No errors detected/, `unzip -t accepts it (zip64 ${zip64})`);
  }

  const zip = new ZipWriter();
  t.throws(() => zip.endStream(0), /no streamed entry/);
  zip.beginStream('a', 1, { mtime: new Date(), mode: 0o100644 });
  t.throws(() => zip.addBuffer('b', Buffer.alloc(1), { mtime: new Date(), mode: 0o100644, compress: false }), /not accepting/);
  t.throws(() => zip.finish(), /cannot be finished/);
  t.throws(() => new ZipWriter().beginStream('', 1, { mtime: new Date(), mode: 0o100644 }), /bad entry name/);
  t.throws(() => new ZipWriter().beginStream('a', -1, { mtime: new Date(), mode: 0o100644 }), /bad size/);
});

t.test('a bundle is a BagIt bag that standard tools and custodia verify accept', async (t) => {
  const fixture = await makeFixture();
  t.teardown(fixture.cleanup);
  const path = join(fixture.dir, 'bundle.zip');
  const progress: number[] = [];
  const written = await writeBundle(fixture.plan, {
    path,
    signingKey: fixture.key,
    onProgress: (p) => progress.push(p.bytesWritten),
  });
  const zipBytes = await readFile(path);
  t.equal(written.bytes, zipBytes.length);
  t.equal(written.sha256, createHash('sha256').update(zipBytes).digest('hex'));
  t.ok(progress.length > 0 && progress.at(-1) === written.bytes, 'progress reaches the total');
  t.same(
    (await readdir(fixture.dir)).filter((f) => f.includes('partial')),
    [],
    'no temporary file left',
  );

  const entries = await zipEntries(path);
  const names = [...entries.keys()];
  t.same(names.slice(0, 5), ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'manifest-sha256.txt.sig', 'tagmanifest-sha256.txt']);
  const evidencePaths = fixture.plan.evidenceFiles.map((f) => bundleEvidencePath(f.evidenceId, f.originalName));
  t.same(
    names.slice(5).sort(),
    [
      'data/manifest.json',
      'data/VERIFY.md',
      'data/records/incidents.json',
      'data/records/statements.json',
      'data/records/witnesses.json',
      'data/records/evidence.json',
      'data/records/reviews.json',
      'data/evidence.csv',
      'data/custody/public-key.pem',
      'data/custody/checkpoint.txt',
      'data/custody/checkpoint.body',
      'data/custody/checkpoint.sig',
      'data/custody/log.jsonl',
      ...evidencePaths,
    ].sort(),
    'exactly the contract layout at the zip root',
  );
  t.match(evidencePaths, [/\/photo 1 — Kharkiv\.jpg$/, /\/passwd$/, /\/شهادة\.txt$/, /\/file$/]);
  for (const p of evidencePaths) t.equal(entries.get(p)?.method, 0, `${p} stored, not compressed`);
  t.equal(entries.get('data/records/incidents.json')?.method, 8, 'JSON deflated');

  // Unzip with the system tool and run VERIFY.md's commands exactly as written.
  const bag = join(fixture.dir, 'bag');
  await mkdir(bag);
  await run('unzip', ['-q', path, '-d', bag]);
  const verifyMd = await readFile(join(bag, 'data/VERIFY.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(verifyMd)?.[1] ?? '';
  const commands = block.trim().split('\n');
  t.same(commands, STANDARD_TOOL_COMMANDS, 'VERIFY.md carries the three commands');
  t.match(verifyMd, /custodia verify <bundle\.zip>/);
  t.match(verifyMd, /GET \/api\/v1\/custody\/keys/);
  t.match(verifyMd, /--key/);
  for (const command of commands) {
    const result = await run('sh', ['-c', command], { cwd: bag });
    t.pass(`ran: ${command}`);
    if (command.startsWith('openssl')) t.match(result.stdout, /Signature Verified Successfully/);
    else t.notMatch(result.stdout, /FAILED/);
  }
  const sums = await run('sha256sum', ['-c', 'manifest-sha256.txt'], { cwd: bag });
  t.equal(sums.stdout.trim().split('\n').length, names.filter((n) => n.startsWith('data/')).length, 'every data/ file checked');
  await run('sha256sum', ['-c', 'tagmanifest-sha256.txt'], { cwd: bag });

  const bagInfo = await readFile(join(bag, 'bag-info.txt'), 'utf8');
  const payload = names.filter((n) => n.startsWith('data/'));
  const payloadBytes = payload.reduce((sum, n) => sum + entries.get(n)!.size, 0);
  t.match(bagInfo, `Payload-Oxum: ${payloadBytes}.${payload.length}\n`);
  t.match(bagInfo, `External-Identifier: ${fixture.exportId}\n`);
  t.match(bagInfo, 'Source-Organization: Test Organisation with a second line\n', 'values stay on one line');
  t.match(bagInfo, 'Custodia-Case-Reference: CASE-2026-001\n');
  t.match(bagInfo, 'Custodia-Export-Scope: {}\n');
  t.match(bagInfo, 'Custodia-Redaction: protect_witnesses\n');
  t.match(bagInfo, `Custodia-Exported-By: ${fixture.plan.createdBy}\n`);
  t.match(bagInfo, 'Bagging-Date: 2026-11-25\n');

  const manifestJson = JSON.parse(await readFile(join(bag, 'data/manifest.json'), 'utf8'));
  t.same(manifestJson.export, {
    id: fixture.exportId,
    createdAt: '2026-11-25T10:00:00.000Z',
    createdBy: fixture.plan.createdBy,
    scope: {},
    redaction: 'protect_witnesses',
    serviceVersion: '0.1.0',
  });
  t.same(manifestJson.case, fixture.plan.case);
  t.same(manifestJson.counts, fixture.plan.counts);
  t.same(
    manifestJson.files.map((f: { path: string }) => f.path).sort(),
    payload.filter((n) => n !== 'data/manifest.json').sort(),
    'manifest.json lists every other payload file',
  );
  const csv = await readFile(join(bag, 'data/evidence.csv'), 'utf8');
  t.equal(csv.split('\r\n').length, fixture.plan.evidenceFiles.length + 2, 'header, one row per item, final CRLF');
  const log = (await readFile(join(bag, 'data/custody/log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.equal(log.length, fixture.plan.custody.lines.length);
  t.same(Object.keys(log[0]), ['seq', 'entry', 'leafHash', 'inclusionProof']);
  const checkpoint = await readFile(join(bag, 'data/custody/checkpoint.txt'), 'utf8');
  t.equal(await readFile(join(bag, 'data/custody/checkpoint.body'), 'utf8'), checkpoint.slice(0, checkpoint.indexOf('\n\n') + 1));
  t.equal((await readFile(join(bag, 'data/custody/checkpoint.sig'))).length, 64);
  t.equal(await readFile(join(bag, 'data/custody/public-key.pem'), 'utf8'), fixture.key.publicKeyPem);

  const verified = await custodia(['verify', path]);
  t.equal(verified.code, 0, verified.stdout + verified.stderr);
  t.match(verified.stdout, /VERIFIED: every check holds/);
  t.match(verified.stdout, /compare its fingerprint|Compare its fingerprint/i);

  const trusted = join(fixture.dir, 'trusted.pem');
  await writeFile(trusted, fixture.key.publicKeyPem);
  const withKey = await verifyInProcess([path, '--key', trusted]);
  t.equal(withKey.code, 0, withKey.stdout);
  t.notMatch(withKey.stdout, /only proves/);

  const stranger = join(fixture.dir, 'stranger.pem');
  await writeFile(stranger, generateSigningKey('someone-else').publicKeyPem);
  const wrongKey = await custodia(['verify', path, `--key=${stranger}`]);
  t.equal(wrongKey.code, 1);
  t.match(wrongKey.stderr, /NOT VERIFIED: trusted key \(--key\): the bundled public key .* is not the trusted key/);

  const json = await verifyInProcess(['--json', path]);
  t.equal(json.code, 0);
  t.equal(JSON.parse(json.stdout).ok, true);

  t.equal((await verifyInProcess([])).code, 2, 'no bundle: usage');
  t.equal((await verifyInProcess([path, '--bogus'])).code, 2, 'unknown option: usage');
  t.equal((await verifyInProcess([path, path])).code, 2, 'two bundles: usage');
  t.equal((await verifyInProcess([path, '--key'])).code, 2, '--key without a file: usage');
  t.equal((await verifyInProcess([path, '--key', join(fixture.dir, 'absent.pem')])).code, 2, 'unreadable key');
  const notAKey = await verifyInProcess([path, '--key', path]);
  t.equal(notAKey.code, 1);
  t.match(notAKey.stderr, /trusted key \(--key\): the --key file is not an Ed25519 public key/);
  const missing = await verifyInProcess([join(fixture.dir, 'absent.zip')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /zip structure: cannot read the file/);
});

t.test('the same plan gives the same bytes', async (t) => {
  const fixture = await makeFixture();
  t.teardown(fixture.cleanup);
  const a = await writeBundle(fixture.plan, { path: join(fixture.dir, 'a.zip'), signingKey: fixture.key });
  const b = await writeBundle(fixture.plan, { path: join(fixture.dir, 'b.zip'), signingKey: fixture.key });
  t.equal(a.sha256, b.sha256);
});

t.test('stored bytes that differ from the record abort the export', async (t) => {
  const variants: [string, (bytes: Buffer) => Buffer][] = [
    ['one byte flipped', (b) => Buffer.from(b.map((x, i) => (i === 3 ? x ^ 1 : x)))],
    ['a byte short', (b) => b.subarray(1)],
    ['a byte more', (b) => Buffer.concat([b, Buffer.of(0)])],
  ];
  for (const [name, change] of variants) {
    const fixture = await makeFixture();
    t.teardown(fixture.cleanup);
    const target = fixture.plan.evidenceFiles[2]!;
    const original = await readFile(join(fixture.dir, 'evidence-2'));
    await writeFile(join(fixture.dir, 'evidence-2'), change(original));
    const error = await assembleBundle(fixture.plan, { signingKey: fixture.key }).catch((e: unknown) => e);
    t.ok(error instanceof EvidenceIntegrityError, name);
    t.equal((error as EvidenceIntegrityError).evidenceId, target.evidenceId);
    t.match((error as Error).message, target.evidenceId);
  }
});

t.test('a source that fails, an abort, a bad plan: no bundle', async (t) => {
  const fixture = await makeFixture();
  t.teardown(fixture.cleanup);
  const files = fixture.plan.evidenceFiles;

  const broken = {
    ...fixture.plan,
    evidenceFiles: [
      files[0]!,
      {
        ...files[1]!,
        open: async () =>
          new Readable({
            read() {
              this.destroy(new Error('disk on fire'));
            },
          }),
      },
    ],
  };
  await t.rejects(assembleBundle(broken, { signingKey: fixture.key }), /disk on fire/);
  const unopenable = { ...fixture.plan, evidenceFiles: [{ ...files[0]!, open: () => Promise.reject(new Error('blob missing')) }] };
  await t.rejects(assembleBundle(unopenable, { signingKey: fixture.key }), /blob missing/);

  const controller = new AbortController();
  const slow = {
    ...fixture.plan,
    evidenceFiles: [
      {
        ...files[0]!,
        open: async () => {
          controller.abort(new Error('shutting down'));
          return Readable.from([Buffer.alloc(0)]);
        },
      },
    ],
  };
  await t.rejects(assembleBundle(slow, { signingKey: fixture.key, signal: controller.signal }), /shutting down/);
  await t.rejects(assembleBundle(fixture.plan, { signingKey: fixture.key, signal: AbortSignal.abort() }));

  await t.rejects(
    assembleBundle(fixture.plan, { signingKey: generateSigningKey('another') }),
    BundlePlanError,
    'checkpoint signed by another key',
  );
  await t.rejects(
    assembleBundle({ ...fixture.plan, evidenceFiles: [files[0]!, files[0]!] }, { signingKey: fixture.key }),
    /planned twice/,
  );
  await t.rejects(
    assembleBundle({ ...fixture.plan, evidenceFiles: [{ ...files[0]!, evidenceId: '../x' }] }, { signingKey: fixture.key }),
    /not a safe path segment/,
  );
  await t.rejects(
    assembleBundle({ ...fixture.plan, evidenceFiles: [{ ...files[0]!, sha256: 'XYZ' }] }, { signingKey: fixture.key }),
    /64 lowercase hex/,
  );
  await t.rejects(
    assembleBundle({ ...fixture.plan, evidenceFiles: [{ ...files[0]!, sizeBytes: -1 }] }, { signingKey: fixture.key }),
    /bad size/,
  );
});
