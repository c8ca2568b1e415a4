import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { generateSigningKey } from '../../src/crypto/index.ts';
import {
  bundleEvidencePath,
  BundlePlanError,
  EvidenceIntegrityError,
  writeBundle,
} from '../../src/modules/exports/bundle/bundle-writer.ts';
import { csvField, evidenceCsv } from '../../src/modules/exports/bundle/evidence-csv.ts';
import { useNativeCrc32ForYazl } from '../../src/modules/exports/bundle/fast-crc32.ts';
import { safeFileName } from '../../src/modules/exports/bundle/safe-name.ts';
import { STANDARD_TOOL_COMMANDS } from '../../src/modules/exports/bundle/verify-instructions.ts';
import { custodia, makeFixture, verifyInProcess } from './fixture.ts';

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

t.test('yazl computes the same CRC-32 with the native function', async (t) => {
  t.equal(useNativeCrc32ForYazl(), true);
  t.equal(useNativeCrc32ForYazl(), true, 'idempotent');
  const { createRequire } = await import('node:module');
  const crc = createRequire(createRequire(import.meta.url).resolve('yazl'))('buffer-crc32') as {
    unsigned: (b: Buffer | string, p?: number) => number;
  };
  const data = Buffer.from('The quick brown fox jumps over the lazy dog');
  t.equal(crc.unsigned(data), 0x414fa339);
  t.equal(crc.unsigned(data.subarray(10), crc.unsigned(data.subarray(0, 10))), 0x414fa339, 'running value');
  t.equal(crc.unsigned('abc'), zlib.crc32('abc'), 'strings still work');
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

t.test('stored bytes that differ from the record abort the write, leaving nothing', async (t) => {
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
    const path = join(fixture.dir, 'bundle.zip');
    const error = await writeBundle(fixture.plan, { path, signingKey: fixture.key }).catch((e: unknown) => e);
    t.ok(error instanceof EvidenceIntegrityError, name);
    t.equal((error as EvidenceIntegrityError).evidenceId, target.evidenceId);
    t.match((error as Error).message, target.evidenceId);
    t.notOk(existsSync(path), `${name}: no bundle`);
    t.same((await readdir(fixture.dir)).filter((f) => f.includes('bundle')), [], `${name}: no partial file`);
  }
});

t.test('a source that fails, an abort, a bad plan: no bundle', async (t) => {
  const fixture = await makeFixture();
  t.teardown(fixture.cleanup);
  const path = join(fixture.dir, 'bundle.zip');
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
  await t.rejects(writeBundle(broken, { path, signingKey: fixture.key }), /disk on fire/);
  const unopenable = { ...fixture.plan, evidenceFiles: [{ ...files[0]!, open: () => Promise.reject(new Error('blob missing')) }] };
  await t.rejects(writeBundle(unopenable, { path, signingKey: fixture.key }), /blob missing/);

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
  await t.rejects(writeBundle(slow, { path, signingKey: fixture.key, signal: controller.signal }), /shutting down/);
  await t.rejects(writeBundle(fixture.plan, { path, signingKey: fixture.key, signal: AbortSignal.abort() }));
  t.notOk(existsSync(path));
  t.same((await readdir(fixture.dir)).filter((f) => f.includes('bundle')), [], 'no partial file');

  await t.rejects(
    writeBundle(fixture.plan, { path, signingKey: generateSigningKey('another') }),
    BundlePlanError,
    'checkpoint signed by another key',
  );
  await t.rejects(
    writeBundle({ ...fixture.plan, evidenceFiles: [files[0]!, files[0]!] }, { path, signingKey: fixture.key }),
    /planned twice/,
  );
  await t.rejects(
    writeBundle({ ...fixture.plan, evidenceFiles: [{ ...files[0]!, evidenceId: '../x' }] }, { path, signingKey: fixture.key }),
    /not a safe path segment/,
  );
  await t.rejects(
    writeBundle({ ...fixture.plan, evidenceFiles: [{ ...files[0]!, sha256: 'XYZ' }] }, { path, signingKey: fixture.key }),
    /64 lowercase hex/,
  );
  await t.rejects(
    writeBundle({ ...fixture.plan, evidenceFiles: [{ ...files[0]!, sizeBytes: -1 }] }, { path, signingKey: fixture.key }),
    /bad size/,
  );
  t.notOk(existsSync(path));
});
