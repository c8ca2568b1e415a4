// A realistic case exported both ways by the real job (pg-boss), then checked as an
// accountability body would: the commands of VERIFY.md, `custodia verify`, and a search of every
// byte for the identities that must not leave.
import { execFileSync, execSync } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createTestContext } from '../helpers/app.ts';
import { FilesystemBlobStore } from '../../src/storage/index.ts';
import { custodia, verifyInProcess } from './fixture.ts';
import { IDENTITIES, SECRET_NARRATIVE, buildRealisticCase, startTestJobs, unzip, waitForExport } from './realistic-case.ts';

const ctx = await createTestContext(t);
await startTestJobs(t, ctx);
const realistic = await buildRealisticCase(ctx);
const { testCase } = realistic;
const { lead, counsel } = testCase.users;

const identityStrings = (identity: { fullName: string; contact: string; dateOfBirth: string }) => [identity.fullName, identity.contact, identity.dateOfBirth];
const ALL_IDENTITY_STRINGS = Object.values(IDENTITIES).flatMap(identityStrings);

async function exportAs(t: Test, user: typeof lead, body: object) {
  const started = await ctx.json(user, 'POST', `/api/v1/cases/${testCase.id}/exports`, body);
  t.equal(started.status, 202, JSON.stringify(started.body));
  t.same(Object.keys(started.body).sort(), ['id', 'status']);
  const done = await waitForExport(ctx, user, started.body.id);
  t.equal(done.status, 'done', JSON.stringify(done));
  t.equal(done.progress, 1);
  t.match(done.sha256, /^[0-9a-f]{64}$/);
  const download = await ctx.inject(user, { method: 'GET', url: `/api/v1/exports/${done.id}/download` });
  t.equal(download.statusCode, 200);
  t.equal(download.headers['content-type'], 'application/zip');
  const zip = download.rawPayload;
  t.equal(zip.length, done.bytes);
  t.equal((await import('node:crypto')).createHash('sha256').update(zip).digest('hex'), done.sha256);
  return { id: done.id as string, zip, view: done };
}

/** The commands of VERIFY.md's first sh block, run as written from the bag root. */
function runVerifyMd(t: Test, dir: string, verifyMd: string) {
  const block = /```sh\n([\s\S]*?)```/.exec(verifyMd)![1]!;
  const commands = block.trim().split('\n');
  t.equal(commands.filter((c) => c.startsWith('openssl pkeyutl -verify')).length, 2, 'two openssl lines');
  t.ok(commands.some((c) => c.startsWith('sha256sum -c')));
  for (const command of commands) {
    const output = execSync(command, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (command.startsWith('openssl')) t.match(output, /Signature Verified Successfully/, command);
    else t.notMatch(output, /FAILED|WARNING/, command);
  }
}

let full!: Awaited<ReturnType<typeof exportAs>>;
let protectedExport!: Awaited<ReturnType<typeof exportAs>>;
t.test('the lead exports in full, counsel protecting witnesses', async (t) => {
  full = await exportAs(t, lead, { redaction: 'full' });
  protectedExport = await exportAs(t, counsel, { redaction: 'protect_witnesses' });
});

for (const name of ['full', 'protect_witnesses'] as const) {
  t.test(`${name}: standard tools and custodia verify`, async (t) => {
    const bundle = name === 'full' ? full : protectedExport;
    const { dir, files } = await unzip(t, bundle.zip);
    runVerifyMd(t, dir, files.get('data/VERIFY.md')!.toString('utf8'));
    const zipPath = join(dir, '..', `${name}-${bundle.id}.zip`);
    await writeFile(zipPath, bundle.zip);
    t.teardown(() => execFileSync('rm', ['-f', zipPath]));
    const result = await verifyInProcess([zipPath]);
    t.equal(result.code, 0, result.stdout + result.stderr);
    const published = join(dir, '..', `${bundle.id}.pem`);
    await writeFile(published, ctx.keys.signing.publicKeyPem);
    t.teardown(() => execFileSync('rm', ['-f', published]));
    t.equal((await verifyInProcess([zipPath, '--key', published])).code, 0, 'verifies against the published key');

    const manifest = JSON.parse(files.get('data/manifest.json')!.toString('utf8'));
    t.equal(manifest.export.id, bundle.id);
    t.equal(manifest.export.redaction, name);
    t.same(manifest.counts.statements, { included: 2, withheld: 2, withheldReasons: { noConsentToShare: 1, witnessDidNotConsentToShare: 1 } });
    t.same(manifest.counts.witnesses.withheldReasons, { noConsentToShare: 1 });
    t.equal(manifest.counts.evidence.included, 3);

    const records = (kind: string) => JSON.parse(files.get(`data/records/${kind}.json`)!.toString('utf8'));
    t.same(records('statements').map((s: { id: string }) => s.id).sort(), [realistic.statements.shared, realistic.statements.otherIncident].sort());
    t.same(records('witnesses').map((w: { id: string }) => w.id).sort(), [realistic.witnesses.consenting, realistic.witnesses.protected].sort());
    t.equal(records('reviews').length, 2);
    const jpeg = records('evidence').find((e: { id: string }) => e.id === realistic.evidence.jpeg);
    t.ok(jpeg.captureLocation, 'the JPEG keeps its GPS position');
    t.ok([...files.keys()].some((p) => p.startsWith(`data/evidence/${realistic.evidence.jpeg}/`)));

    // Every entry of the exported items, this export's `exported` entries included.
    const log = files.get('data/custody/log.jsonl')!.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    const exported = log.filter((l) => l.entry?.action === 'exported' && l.entry.details.exportId === bundle.id);
    t.equal(exported.length, 3);
    t.ok(log.some((l) => l.entry?.action === 'collected'));
    t.ok(log.some((l) => l.entry?.action === 'reviewed'));
    // The JPEG's `collected` entry quotes its file name, which holds the protected witness's name:
    // it travels as its leaf hash and proof only, and verifies as such.
    const withheld = log.filter((l) => l.withheld !== undefined);
    t.equal(withheld.length, 1);
    t.notOk('entry' in withheld[0]);
    t.same(manifest.counts.custodyEntries, { included: log.length - 1, withheld: 1 });
    t.match(result.stdout, /1 withheld by the redaction/);

    // Nothing of the statements that may not leave, in any file or in the zip's bytes.
    const everything = [bundle.zip, ...files.values()];
    const texts = [...files.keys(), ...[...files.values()].map((b) => b.toString('utf8'))];
    for (const needle of [SECRET_NARRATIVE, realistic.statements.notShared, realistic.statements.ofRefusingWitness, realistic.witnesses.refusing]) {
      t.notOk(texts.some((text) => text.includes(needle)), `absent from ${name}: ${needle.slice(0, 20)}`);
    }
    const hidden = name === 'full' ? [...identityStrings(IDENTITIES.protected), ...identityStrings(IDENTITIES.refusing)] : ALL_IDENTITY_STRINGS;
    for (const needle of hidden) {
      t.notOk(everything.some((bytes) => bytes.includes(Buffer.from(needle, 'utf8'))), `no "${needle.slice(0, 6)}…" in the bytes of ${name}`);
      t.notOk(texts.some((text) => text.toLowerCase().includes(needle.toLowerCase())), `no "${needle.slice(0, 6)}…" in the text of ${name}`);
    }
    const witnesses = records('witnesses');
    const consenting = witnesses.find((w: { id: string }) => w.id === realistic.witnesses.consenting);
    if (name === 'full') {
      t.same(consenting.identity, IDENTITIES.consenting, 'the consenting witness carries an identity');
      t.notOk(witnesses.find((w: { id: string }) => w.id === realistic.witnesses.protected).identity);
      t.equal(manifest.counts.witnesses.identities.included, 1);
      const disclosure = await ctx.db.auditEntry.findMany({ where: { action: 'witness.identity.export', details: { path: ['exportId'], equals: bundle.id } } });
      t.same(disclosure.map((a) => [a.targetId, a.actorId]), [[realistic.witnesses.consenting, lead.id]], 'the disclosure is audited');
    } else {
      for (const w of witnesses) t.notOk('identity' in w);
    }
    // The free-text mention of the protected witness's name and the file name carrying it are redacted.
    t.ok(texts.some((text) => text.includes('[withheld: witness identity]')));
    t.ok(manifest.counts.redactedIdentityMentions >= 2);
  });
}

t.test('the consenting identity is present only in full', async (t) => {
  const needle = Buffer.from(IDENTITIES.consenting.fullName);
  const { files: fullFiles } = await unzip(t, full.zip);
  t.ok(fullFiles.get('data/records/witnesses.json')!.includes(needle));
  const { files } = await unzip(t, protectedExport.zip);
  t.notOk([...files.values()].some((b) => b.includes(needle)));
});

t.test('the case log records one exported entry per item and export', async (t) => {
  const { body } = await ctx.json(lead, 'GET', `/api/v1/cases/${testCase.id}/custody?limit=200`);
  const exported = body.items.filter((i: any) => i.entry.action === 'exported');
  t.equal(exported.length, 6);
  t.same([...new Set(exported.map((i: any) => i.entry.details.exportId))].sort(), [full.id, protectedExport.id].sort());
  const verify = await ctx.json(lead, 'GET', `/api/v1/cases/${testCase.id}/custody/verify`);
  t.equal(verify.body.valid, true);
});

t.test('custodia verify as a command', async (t) => {
  const { dir } = await unzip(t, protectedExport.zip);
  const zipPath = join(dir, '..', `cli-${protectedExport.id}.zip`);
  await writeFile(zipPath, protectedExport.zip);
  t.teardown(() => execFileSync('rm', ['-f', zipPath]));
  const result = await custodia(['verify', zipPath]);
  t.equal(result.code, 0, result.stdout + result.stderr);
});

t.test('a scope of one incident: its evidence, its statements, their witnesses', async (t) => {
  const scoped = await exportAs(t, lead, { scope: { incidentIds: [realistic.incidentIds[1]] }, redaction: 'protect_witnesses' });
  const { files } = await unzip(t, scoped.zip);
  const records = (kind: string) => JSON.parse(files.get(`data/records/${kind}.json`)!.toString('utf8'));
  t.same(records('incidents').map((i: { id: string }) => i.id), [realistic.incidentIds[1]]);
  t.same(records('evidence').map((e: { id: string }) => e.id), [realistic.evidence.document]);
  t.same(records('statements').map((s: { id: string }) => s.id), [realistic.statements.otherIncident]);
  t.same(records('witnesses').map((w: { id: string }) => w.id), [realistic.witnesses.protected]);
  t.notOk(files.get('data/records/statements.json')!.includes(Buffer.from(IDENTITIES.protected.fullName)));
  const bagInfo = files.get('bag-info.txt')!.toString('utf8');
  t.match(bagInfo, `Custodia-Export-Scope: {"incidentIds":["${realistic.incidentIds[1]}"]}`);

  const evidenceOnly = await exportAs(t, lead, { scope: { evidenceIds: [realistic.evidence.unlinked] } });
  const only = await unzip(t, evidenceOnly.zip);
  t.same(JSON.parse(only.files.get('data/records/evidence.json')!.toString()).map((e: { id: string }) => e.id), [realistic.evidence.unlinked]);
  t.same(JSON.parse(only.files.get('data/records/witnesses.json')!.toString()), []);
  t.same(JSON.parse(only.files.get('data/records/statements.json')!.toString()), []);
});

t.test('Range downloads', async (t) => {
  const url = `/api/v1/exports/${protectedExport.id}/download`;
  const part = await ctx.inject(counsel, { method: 'GET', url, headers: { range: 'bytes=10-99' } });
  t.equal(part.statusCode, 206);
  t.equal(part.headers['content-range'], `bytes 10-99/${protectedExport.zip.length}`);
  t.same(part.rawPayload, protectedExport.zip.subarray(10, 100));
  const tail = await ctx.inject(counsel, { method: 'GET', url, headers: { range: 'bytes=-22' } });
  t.same(tail.rawPayload, protectedExport.zip.subarray(-22), 'the end of central directory');
  const beyond = await ctx.inject(counsel, { method: 'GET', url, headers: { range: `bytes=${protectedExport.zip.length}-` } });
  t.equal(beyond.statusCode, 416);
  t.equal(beyond.headers['content-range'], `bytes */${protectedExport.zip.length}`);
  t.equal(JSON.parse(beyond.body).code, 'range_not_satisfiable');
  // Every boundary between a piece of the skeleton and an evidence file, crossed by a range.
  const row = await ctx.db.export.findUniqueOrThrow({ where: { id: protectedExport.id } });
  const segments = row.segments as { blob: string; start: number; length: number }[];
  t.ok(new Set(segments.map((s) => s.blob)).size >= 2 && segments.length >= 3, 'evidence interleaved with the skeleton');
  let boundary = 0;
  for (const segment of segments.slice(0, -1)) {
    boundary += segment.length;
    const start = Math.max(0, boundary - 5);
    const end = Math.min(protectedExport.zip.length - 1, boundary + 4);
    const across = await ctx.inject(counsel, { method: 'GET', url, headers: { range: `bytes=${start}-${end}` } });
    t.same(across.rawPayload, protectedExport.zip.subarray(start, end + 1), `bytes ${start}-${end} across a segment boundary`);
  }
  const audits = await ctx.db.auditEntry.findMany({ where: { action: 'export.download', targetId: protectedExport.id } });
  t.ok(audits.filter((a) => a.outcome === 'success').length >= 3, 'every served download is audited');
  t.ok(audits.some((a) => a.outcome === 'failure'));
});

t.test('each download is an accessed custody entry for every item whose bytes it serves', async (t) => {
  const started = await ctx.json(lead, 'POST', `/api/v1/cases/${testCase.id}/exports`, { scope: { evidenceIds: [realistic.evidence.document, realistic.evidence.unlinked] } });
  const done = await waitForExport(ctx, lead, started.body.id);
  const url = `/api/v1/exports/${done.id}/download`;
  const accessed = async () =>
    (await ctx.db.custodyEntry.findMany({ where: { caseId: testCase.id, action: 'accessed' }, orderBy: { seq: 'asc' } }))
      .map((e) => JSON.parse(e.entry))
      .filter((e) => e.details.exportId === done.id);
  t.same(await accessed(), [], 'none before a download');

  const whole = await ctx.inject(counsel, { method: 'GET', url });
  t.equal(whole.statusCode, 404, 'counsel did not create it');
  const full = await ctx.inject(lead, { method: 'GET', url });
  t.equal(full.statusCode, 200);
  let entries = await accessed();
  t.same(entries.map((e) => e.evidenceId).sort(), [realistic.evidence.document, realistic.evidence.unlinked].sort(), 'a whole download: every item');
  t.ok(entries.every((e) => e.actorId === lead.id && e.details.range === null));

  const row = await ctx.db.export.findUniqueOrThrow({ where: { id: done.id } });
  const segments = row.segments as { length: number; evidenceId?: string }[];
  const head = await ctx.inject(lead, { method: 'GET', url, headers: { range: 'bytes=0-29' } });
  t.equal(head.statusCode, 206);
  t.equal((await accessed()).length, 2, 'a range of the skeleton only serves no evidence');
  let offset = 0;
  const at = segments.findIndex((s) => s.evidenceId !== undefined);
  for (const s of segments.slice(0, at)) offset += s.length;
  const one = await ctx.inject(lead, { method: 'GET', url, headers: { range: `bytes=${offset}-${offset + 3}` } });
  t.equal(one.statusCode, 206);
  entries = await accessed();
  t.equal(entries.length, 3);
  t.same(entries.at(-1).evidenceId, segments[at]!.evidenceId, 'a range within one file: that item');
  t.same(entries.at(-1).details, { exportId: done.id, range: `bytes=${offset}-${offset + 3}` });
  const verified = await ctx.json(lead, 'GET', `/api/v1/cases/${testCase.id}/custody/verify`);
  t.equal(verified.body.valid, true, 'the log still verifies');
});

t.test('stored evidence bytes that differ from their hash fail the export loudly', async (t) => {
  const row = await ctx.db.evidence.findUniqueOrThrow({ where: { id: realistic.evidence.unlinked } });
  const store = new FilesystemBlobStore(join(ctx.dataDir, 'blobs'));
  const path = store.pathOf(row.sha256);
  await chmod(path, 0o600);
  await writeFile(path, 'an unlinked note, in no incidenT\n');
  const started = await ctx.json(lead, 'POST', `/api/v1/cases/${testCase.id}/exports`, { scope: { evidenceIds: [row.id] } });
  const done = await waitForExport(ctx, lead, started.body.id);
  t.equal(done.status, 'failed');
  t.match(done.error, /do not match the recorded SHA-256/);
  t.notOk(done.sha256);
  const download = await ctx.json(lead, 'GET', `/api/v1/exports/${done.id}/download`);
  t.equal(download.status, 409);
  const audit = await ctx.db.auditEntry.findFirst({ where: { action: 'export.failed', targetId: done.id } });
  t.equal(audit?.outcome, 'failure');
  t.match(audit?.details, { reason: 'evidence_integrity', evidenceId: row.id });

  // An export finished before the change holds the same file: its whole download stops short of
  // the end (the end of central directory never leaves), so no client takes it for the bundle.
  await t.rejects(
    ctx.inject(counsel, { method: 'GET', url: `/api/v1/exports/${protectedExport.id}/download` }),
    /destroyed before completion/,
    'the whole download is cut short',
  );
  const refusal = { action: 'export.download', targetId: protectedExport.id, outcome: 'failure', details: { path: ['reason'], equals: 'bundle_integrity' } };
  for (let i = 0; i < 100 && (await ctx.db.auditEntry.count({ where: refusal })) === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(await ctx.db.auditEntry.count({ where: refusal }), 1, 'and audited');
  const head = await ctx.inject(counsel, { method: 'GET', url: `/api/v1/exports/${protectedExport.id}/download`, headers: { range: 'bytes=0-29' } });
  t.same(head.rawPayload, protectedExport.zip.subarray(0, 30), 'a range of unchanged bytes is still served');
});

t.test('stored evidence bytes that are gone fail the export for good', async (t) => {
  const row = await ctx.db.evidence.findUniqueOrThrow({ where: { id: realistic.evidence.document } });
  const store = new FilesystemBlobStore(join(ctx.dataDir, 'blobs'));
  await store.remove(row.sha256);
  const started = await ctx.json(lead, 'POST', `/api/v1/cases/${testCase.id}/exports`, { scope: { evidenceIds: [row.id] } });
  const done = await waitForExport(ctx, lead, started.body.id);
  t.equal(done.status, 'failed');
  t.match(done.error, /missing/);
  const audit = await ctx.db.auditEntry.findFirst({ where: { action: 'export.failed', targetId: done.id } });
  t.match(audit?.details, { reason: 'evidence_missing' });
  t.equal(await ctx.db.export.count({ where: { id: done.id, attempts: 1 } }), 1, 'not retried');

  // A finished export that needs the missing blob answers 503 before any byte is sent.
  const download = await ctx.json(counsel, 'GET', `/api/v1/exports/${protectedExport.id}/download`);
  t.equal(download.status, 503);
  t.equal(download.body.code, 'service_unavailable');
});

t.test('an export finished before segments existed is one stored zip, served whole and by range', async (t) => {
  const store = new FilesystemBlobStore(join(ctx.dataDir, 'blobs'));
  const temp = await store.createTemp();
  await temp.write(full.zip);
  await temp.finish();
  const { storageKey } = await store.commit(temp, full.view.sha256);
  const legacy = await ctx.db.export.create({
    data: {
      id: (await import('node:crypto')).randomUUID(),
      caseId: testCase.id,
      createdBy: lead.id,
      redaction: 'full',
      status: 'done',
      progress: 1,
      bytes: BigInt(full.zip.length),
      sha256: full.view.sha256,
      storageKey,
      finishedAt: new Date(),
    },
  });
  const url = `/api/v1/exports/${legacy.id}/download`;
  const whole = await ctx.inject(lead, { method: 'GET', url });
  t.equal(whole.statusCode, 200);
  t.ok(whole.rawPayload.equals(full.zip), 'the stored zip');
  const part = await ctx.inject(lead, { method: 'GET', url, headers: { range: 'bytes=100-199' } });
  t.equal(part.statusCode, 206);
  t.same(part.rawPayload, full.zip.subarray(100, 200));
});
