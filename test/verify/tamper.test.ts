// An accountability body must detect every change to a bundle. Each variant below changes a
// written bundle the way an attacker (or a bad disk) would, rewrites the zip with yazl, and
// expects `custodia verify` to fail, naming the first thing that does not hold.
import t from 'tap';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseCheckpoint, signCheckpoint } from '../../src/custody/index.ts';
import { generateSigningKey, sign } from '../../src/crypto/index.ts';
import type { SigningKey } from '../../src/crypto/index.ts';
import { bundleEvidencePath } from '../../src/modules/exports/bundle/bundle-writer.ts';
import { verifyBundle } from '../../src/verify/verify-bundle.ts';
import { custodia, makeFixture, verifyInProcess, writeBundle } from '../exports/fixture.ts';
import { flipByte, readZip, writeZip } from './rezip.ts';
import type { Files } from './rezip.ts';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const text = (files: Files, name: string): string => files.get(name)!.toString('utf8');

/** What an attacker without the service's key can do: recompute every hash list. */
function recomputeManifests(files: Files, resignWith?: SigningKey): void {
  if (resignWith !== undefined) {
    files.set('data/custody/public-key.pem', Buffer.from(resignWith.publicKeyPem));
    const body = parseCheckpoint(text(files, 'data/custody/checkpoint.txt')).body;
    files.set('data/custody/checkpoint.txt', Buffer.from(signCheckpoint(body, resignWith)));
    files.set('data/custody/checkpoint.sig', sign(Buffer.from(body), resignWith));
  }
  const manifestJson = JSON.parse(text(files, 'data/manifest.json'));
  for (const f of manifestJson.files) {
    const bytes = files.get(f.path);
    if (bytes !== undefined) Object.assign(f, { sha256: sha256(bytes), sizeBytes: bytes.length });
  }
  files.set('data/manifest.json', Buffer.from(JSON.stringify(manifestJson, null, 2)));
  const payload = [...files.keys()].filter((n) => n.startsWith('data/')).sort();
  const manifest = Buffer.from(payload.map((n) => `${sha256(files.get(n)!)}  ${n}\n`).join(''));
  files.set('manifest-sha256.txt', manifest);
  if (resignWith !== undefined) files.set('manifest-sha256.txt.sig', sign(manifest, resignWith));
  const bytes = payload.reduce((sum, n) => sum + files.get(n)!.length, 0);
  files.set('bag-info.txt', Buffer.from(text(files, 'bag-info.txt').replace(/Payload-Oxum: .*\n/, `Payload-Oxum: ${bytes}.${payload.length}\n`)));
  recomputeTagManifest(files);
}

function recomputeTagManifest(files: Files): void {
  const tags = ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'manifest-sha256.txt.sig'];
  files.set('tagmanifest-sha256.txt', Buffer.from(tags.map((n) => `${sha256(files.get(n)!)}  ${n}\n`).join('')));
}

function changeLogLine(files: Files, index: number, change: (line: Record<string, unknown>) => void): void {
  const lines = text(files, 'data/custody/log.jsonl').trimEnd().split('\n');
  const line = JSON.parse(lines[index]!);
  change(line);
  lines[index] = JSON.stringify(line);
  files.set('data/custody/log.jsonl', Buffer.from(`${lines.join('\n')}\n`));
}

t.test('tampered bundles fail verification, naming what does not hold', async (t) => {
  const fixture = await makeFixture();
  t.teardown(fixture.cleanup);
  const original = join(fixture.dir, 'bundle.zip');
  await writeBundle(fixture.plan, { path: original, signingKey: fixture.key });
  t.equal((await verifyBundle(original)).ok, true, 'the untouched bundle verifies');

  const evidence = fixture.plan.evidenceFiles[0]!;
  const evidenceFile = bundleEvidencePath(evidence.evidenceId, evidence.originalName);
  const attackerKey = generateSigningKey('custodia-test');

  type Variant = {
    name: string;
    change: (files: Files) => void;
    check: RegExp;
    problem: RegExp;
    /** Other checks that must fail too (the deeper reason). */
    also?: [RegExp, RegExp][];
    trustedKey?: string;
  };
  const variants: Variant[] = [
    {
      name: 'one byte flipped in an evidence file',
      change: (f) => f.set(evidenceFile, flipByte(f.get(evidenceFile)!)),
      check: /^payload manifest/,
      problem: new RegExp(`^${evidenceFile}: SHA-256 is [0-9a-f]{64}, manifest-sha256.txt says ${evidence.sha256}`),
      also: [
        [/^data\/manifest.json/, /SHA-256/],
        [/^evidence files/, /a custody entry of evidence .* records/],
      ],
    },
    {
      name: 'one byte flipped in a record file',
      change: (f) => f.set('data/records/statements.json', flipByte(f.get('data/records/statements.json')!)),
      check: /^payload manifest/,
      problem: /^data\/records\/statements.json: SHA-256 is/,
    },
    {
      name: 'one byte flipped in the manifest signature',
      change: (f) => f.set('manifest-sha256.txt.sig', flipByte(f.get('manifest-sha256.txt.sig')!)),
      check: /^manifest signature/,
      problem: /manifest-sha256.txt.sig does not verify with the bundled key/,
      also: [[/^tag manifest/, /manifest-sha256.txt.sig: SHA-256 is/]],
    },
    {
      name: 'one byte flipped in the checkpoint signature',
      change: (f) => f.set('data/custody/checkpoint.sig', flipByte(f.get('data/custody/checkpoint.sig')!)),
      check: /^payload manifest/,
      problem: /^data\/custody\/checkpoint.sig: SHA-256 is/,
      also: [[/^custody checkpoint/, /checkpoint.sig does not verify data\/custody\/checkpoint.body/]],
    },
    {
      name: 'one log entry changed',
      change: (f) =>
        changeLogLine(f, 2, (line) => {
          const entry = line.entry as { at: string };
          entry.at = entry.at.replace(':0', ':1');
        }),
      check: /^payload manifest/,
      problem: /^data\/custody\/log.jsonl: SHA-256 is/,
      also: [[/^custody log/, /line 3 \(seq \d+\): leafHash differs from the entry/]],
    },
    {
      name: 'one inclusion proof changed',
      change: (f) =>
        changeLogLine(f, 1, (line) => {
          const proof = line.inclusionProof as string[];
          proof[0] = `${proof[0]![0] === '0' ? '1' : '0'}${proof[0]!.slice(1)}`;
        }),
      check: /^payload manifest/,
      problem: /^data\/custody\/log.jsonl: SHA-256 is/,
      also: [[/^custody log/, /line 2 \(seq \d+\): entry \d+ is not included in the checkpoint's tree/]],
    },
    {
      name: 'a file removed',
      change: (f) => f.delete('data/records/reviews.json'),
      check: /^payload manifest/,
      problem: /^data\/records\/reviews.json: listed in manifest-sha256.txt but missing from the bag/,
      also: [[/^Payload-Oxum/, /Payload-Oxum says/]],
    },
    {
      name: 'an evidence file removed',
      change: (f) => f.delete(evidenceFile),
      check: /^payload manifest/,
      problem: /listed in manifest-sha256.txt but missing/,
      also: [[/^evidence files/, new RegExp(`evidence ${evidence.evidenceId} has custody entries but no file`)]],
    },
    {
      name: 'a file added under data/',
      change: (f) => f.set('data/records/extra.json', Buffer.from('[]\n')),
      check: /^payload manifest/,
      problem: /^data\/records\/extra.json: in the bag but not listed in manifest-sha256.txt/,
    },
    {
      name: 'a file added beside the bag',
      change: (f) => f.set('README.txt', Buffer.from('trust me\n')),
      check: /^bag layout/,
      problem: /^README.txt: unexpected file outside data\//,
    },
    {
      name: 'a record edited and every manifest recomputed (no key)',
      change: (f) => {
        f.set('data/records/incidents.json', Buffer.from('[{"title":"nothing happened"}]\n'));
        recomputeManifests(f);
      },
      check: /^manifest signature/,
      problem: /does not verify with the bundled key: manifest-sha256.txt was changed after it was signed/,
    },
    {
      name: 'Payload-Oxum edited and the tag manifest recomputed',
      change: (f) => {
        f.set('bag-info.txt', Buffer.from(text(f, 'bag-info.txt').replace(/Payload-Oxum: \d+/, 'Payload-Oxum: 1')));
        recomputeTagManifest(f);
      },
      check: /^Payload-Oxum/,
      problem: /Payload-Oxum says 1\.\d+, the payload is/,
    },
    {
      name: 'bag-info.txt claims another redaction',
      change: (f) => {
        f.set('bag-info.txt', Buffer.from(text(f, 'bag-info.txt').replace('protect_witnesses', 'full')));
        recomputeTagManifest(f);
      },
      check: /^bag-info.txt/,
      problem: /Custodia-Redaction says full, data\/manifest.json says protect_witnesses/,
    },
    {
      name: 'bag-info.txt edited without recomputing the tag manifest',
      change: (f) => f.set('bag-info.txt', Buffer.from(text(f, 'bag-info.txt').replace('Test Organisation', 'Other Organisation'))),
      check: /^tag manifest/,
      problem: /^bag-info.txt: SHA-256 is/,
    },
    {
      name: 'evidence replaced, bag re-signed with another key, custody log untouched',
      change: (f) => {
        f.set(evidenceFile, Buffer.from('other bytes'));
        recomputeManifests(f, attackerKey);
      },
      check: /^evidence files/,
      problem: new RegExp(`${evidenceFile}: SHA-256 is [0-9a-f]{64}, a custody entry of evidence ${evidence.evidenceId} records ${evidence.sha256}`),
    },
    {
      name: 'a record edited and re-signed with another key, checked against the trusted key',
      change: (f) => {
        f.set('data/records/incidents.json', Buffer.from('[]\n'));
        recomputeManifests(f, attackerKey);
      },
      trustedKey: fixture.key.publicKeyPem,
      check: /^trusted key/,
      problem: /the bundled public key \([0-9a-f]{64}\) is not the trusted key/,
      also: [
        [/^manifest signature/, /does not verify with the trusted key/],
        [/^custody checkpoint/, /no valid signature by the trusted key/],
      ],
    },
  ];

  const originalFiles = await readZip(original);
  for (const [index, variant] of variants.entries()) {
    const files = new Map(originalFiles);
    variant.change(files);
    const path = join(fixture.dir, `tampered-${index}.zip`);
    await writeZip(path, files);
    const report = await verifyBundle(path, { trustedKeyPem: variant.trustedKey });
    t.equal(report.ok, false, `${variant.name}: fails`);
    t.match(report.firstFailure?.check, variant.check, `${variant.name}: first failing check`);
    t.match(report.firstFailure?.problem, variant.problem, `${variant.name}: names it`);
    for (const [check, problem] of variant.also ?? []) {
      const failed = report.checks.find((c) => check.test(c.title));
      t.equal(failed?.status, 'failed', `${variant.name}: ${String(check)} fails too`);
      t.ok(failed?.problems.some((p) => problem.test(p)), `${variant.name}: ${String(problem)}`);
    }
  }

  // Re-signed with another key and nothing else checked: consistent with itself, which is why
  // VERIFY.md says to compare the key or pass --key.
  const resigned = new Map(originalFiles);
  resigned.set('data/records/incidents.json', Buffer.from('[]\n'));
  recomputeManifests(resigned, attackerKey);
  const resignedPath = join(fixture.dir, 'resigned.zip');
  await writeZip(resignedPath, resigned);
  t.equal((await verifyBundle(resignedPath)).ok, true, 'self-consistent with its own key');

  // Through the real command: exit status 1 and the first failure on stderr.
  const cli = await custodia(['verify', join(fixture.dir, 'tampered-0.zip')]);
  t.equal(cli.code, 1);
  t.match(cli.stderr, `NOT VERIFIED: payload manifest (manifest-sha256.txt): ${evidenceFile}: SHA-256 is`);
  t.match(cli.stdout, /\[FAIL\] payload manifest/);
  const inProcess = await verifyInProcess([join(fixture.dir, 'tampered-4.zip')]);
  t.equal(inProcess.code, 1);
  t.match(inProcess.stdout, /- data\/custody\/log.jsonl line 3 \(seq \d+\): leafHash differs from the entry/);

  // A re-zipped bag with directory entries (as `zip -r` makes) is still the same bag.
  const withDirectories = join(fixture.dir, 'with-directories.zip');
  await writeZip(withDirectories, originalFiles, { directories: ['data/', 'data/custody/'] });
  t.equal((await verifyBundle(withDirectories)).ok, true, 'directory entries are fine');
  const zip64 = join(fixture.dir, 'zip64.zip');
  await writeZip(zip64, originalFiles, { zip64: true });
  t.equal((await verifyBundle(zip64)).ok, true, 'zip64 records are read');
});
