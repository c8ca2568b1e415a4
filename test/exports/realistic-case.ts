// A realistic case, built through the API: incidents, witnesses with identities (one consenting
// to disclosure, one not, one refusing to share), statements with and without consent, evidence
// (a JPEG with GPS among it, one item linked to no incident) and reviews; plus helpers to run
// the job queue and wait for an export.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Test } from 'tap';
import { createMetrics } from '../../src/http/metrics.ts';
import { startJobs, type Jobs } from '../../src/jobs/jobs.ts';
import type { TestCase, TestContext, TestUser } from '../helpers/app.ts';
import { jpegWithGps } from '../evidence/jpeg.ts';
import { metadata, upload } from '../evidence/helpers.ts';

export const IDENTITIES = {
  consenting: { fullName: 'Amina Khaledova', contact: '+380 67 555 0142, vul. Sadova 12', dateOfBirth: '1987-04-19', notes: 'prefers Signal' },
  protected: { fullName: 'Oleksandr Brovchenko', contact: 'o.brovchenko@example.net', dateOfBirth: '1979-11-02', notes: 'do not call after 18:00' },
  refusing: { fullName: 'Halyna Pidvysotska', contact: '+380 50 777 3311', dateOfBirth: '1992-01-30', notes: null },
};
export const SECRET_NARRATIVE = 'I will only speak to the investigators: Kupyansk basement, the third door.';

export interface RealisticCase {
  testCase: TestCase;
  incidentIds: [string, string];
  witnesses: { consenting: string; protected: string; refusing: string };
  statements: { shared: string; notShared: string; ofRefusingWitness: string; otherIncident: string };
  evidence: { jpeg: string; document: string; unlinked: string };
}

async function ok<T = any>(promise: Promise<{ status: number; body: T }>, status: number): Promise<T> {
  const response = await promise;
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

export async function buildRealisticCase(ctx: TestContext): Promise<RealisticCase> {
  const testCase = await ctx.createCase();
  const { lead, investigator, reviewer } = testCase.users;
  const base = `/api/v1/cases/${testCase.id}`;
  const incident = (title: string, day: string) =>
    ok(ctx.json(investigator, 'POST', `${base}/incidents`, { title, summary: `${title}: shelling of a residential block`, occurredFrom: day }), 201);
  const first = await incident('Market strike', '2026-02-11');
  const second = await incident('Checkpoint detention', '2026-03-04');

  const witness = (consent: Record<string, unknown>) => ok(ctx.json(investigator, 'POST', `${base}/witnesses`, { riskLevel: 'high', consent }), 201);
  const consenting = await witness({ interview: true, shareWithAccountabilityBodies: true, identityDisclosure: true, notes: 'consent recorded on paper' });
  const protectedWitness = await witness({ interview: true, shareWithAccountabilityBodies: true, identityDisclosure: false });
  const refusing = await witness({ interview: true, shareWithAccountabilityBodies: false, identityDisclosure: false });
  for (const [w, identity] of [
    [consenting, IDENTITIES.consenting],
    [protectedWitness, IDENTITIES.protected],
    [refusing, IDENTITIES.refusing],
  ] as const) {
    await ok(ctx.json(investigator, 'PUT', `/api/v1/witnesses/${w.id}/identity`, identity), 200);
    for (const value of [identity.fullName, identity.contact, identity.dateOfBirth]) ctx.secrets.add(value);
  }

  const statement = (witnessId: string, incidentIds: string[], narrative: string, share: boolean) =>
    ok(
      ctx.json(investigator, 'POST', `${base}/statements`, {
        witnessId,
        incidentIds,
        takenAt: '2026-03-10T09:30:00.000Z',
        place: 'Field office',
        language: 'uk',
        narrative,
        consent: { useInProceedings: true, shareWithAccountabilityBodies: share, restrictions: null },
      }),
      201,
    );
  const shared = await statement(consenting.id, [first.id], 'I saw two impacts near the market at noon.', true);
  // The protected witness mentions a name in free text: it is redacted unless disclosed.
  const notShared = await statement(protectedWitness.id, [first.id], SECRET_NARRATIVE, false);
  const ofRefusingWitness = await statement(refusing.id, [first.id], 'Statement of a witness who did not consent to sharing.', true);
  const otherIncident = await statement(protectedWitness.id, [second.id], `My neighbour ${IDENTITIES.protected.fullName} was detained with me.`, true);

  const jpeg = await upload(ctx, investigator, testCase.id, jpegWithGps(), {
    filename: `photo by ${IDENTITIES.protected.fullName}.jpg`,
    metadata: await metadata({ title: 'Photo of the market', incidentIds: [first.id] }),
  });
  if (jpeg.status !== 201) throw new Error(`upload: ${jpeg.status} ${JSON.stringify(jpeg.body)}`);
  const document = await upload(ctx, investigator, testCase.id, Buffer.from('%PDF-1.4\nreport of the field team\n'), {
    filename: 'report.pdf',
    metadata: await metadata({ title: 'Field report', incidentIds: [second.id] }),
  });
  const unlinked = await upload(ctx, investigator, testCase.id, Buffer.from('an unlinked note, in no incident\n'), {
    filename: 'note.txt',
    metadata: await metadata({ title: 'Loose note' }),
  });
  await ok(
    ctx.json(reviewer, 'POST', `/api/v1/evidence/${jpeg.body.id}/reviews`, { decision: 'verified', notes: 'geolocated', checks: [{ name: 'geolocation', result: 'passed' }] }),
    201,
  );
  await ok(ctx.json(lead, 'POST', `/api/v1/evidence/${document.body.id}/reviews`, { decision: 'needs_information', notes: 'source?', checks: [] }), 201);
  return {
    testCase,
    incidentIds: [first.id, second.id],
    witnesses: { consenting: consenting.id, protected: protectedWitness.id, refusing: refusing.id },
    statements: { shared: shared.id, notShared: notShared.id, ofRefusingWitness: ofRefusingWitness.id, otherIncident: otherIncident.id },
    evidence: { jpeg: jpeg.body.id, document: document.body.id, unlinked: unlinked.body.id },
  };
}

/** The job queues on the test database (schema, queues; and a worker unless `working` is false). */
export async function startTestJobs(t: Pick<Test, 'teardown'>, ctx: TestContext, options: { working?: boolean } = {}): Promise<Jobs> {
  const config = options.working === false ? { ...ctx.config, workers: 'external' as const } : ctx.config;
  const jobs = await startJobs({ config, db: ctx.db, databaseUrl: ctx.database.url, keys: ctx.keys, log: ctx.app.log, metrics: createMetrics(false), role: 'serve' });
  // The worker's timers do not hold the event loop: without this, tap could see the test file
  // idle (and end it) while a job is running.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(async () => {
    clearInterval(keepAlive);
    await jobs.stop();
  });
  return jobs;
}

export async function waitForExport(ctx: TestContext, user: TestUser, id: string, timeoutMs = 60_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await ctx.json(user, 'GET', `/api/v1/exports/${id}`);
    if (status !== 200) throw new Error(`GET export: ${status} ${JSON.stringify(body)} ${ctx.logs.filter((l) => l.includes('"level":50')).slice(-3).join("\n")}`);
    if (body.status === 'done' || body.status === 'failed') return body;
    if (Date.now() > until) throw new Error(`export still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Unzips a bundle into a fresh directory (removed at teardown); answers it and every file in it. */
export async function unzip(t: Pick<Test, 'teardown'>, zip: Buffer): Promise<{ dir: string; files: Map<string, Buffer> }> {
  const dir = await mkdtemp(join(tmpdir(), 'custodia-bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const zipPath = join(dir, '..', `${relative(tmpdir(), dir)}.zip`);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(zipPath, zip);
  t.teardown(() => rm(zipPath, { force: true }));
  execFileSync('unzip', ['-q', zipPath, '-d', dir]);
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path));
  }
  return { dir, files };
}
