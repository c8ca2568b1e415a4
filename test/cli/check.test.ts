// `custodia check` as an operator runs it: exit code 0 when everything is intact, 1 with a line
// per problem when not, --json for a machine, 2 for a wrong argument.
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createTestContext, type TestContext } from '../helpers/app.ts';
import { runCustodia } from '../helpers/cli.ts';
import { upload } from '../evidence/helpers.ts';

function custodia(ctx: TestContext, args: string[]) {
  return runCustodia(args, { DATABASE_URL: ctx.database.url, CUSTODIA_DATA_DIR: ctx.dataDir, LOG_LEVEL: 'warn' });
}

t.test('custodia check', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const data = randomBytes(100_000);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const item = await upload(ctx, testCase.users.investigator, testCase.id, data);
  t.equal(item.status, 201);

  const intact = await custodia(ctx, ['check']);
  t.equal(intact.code, 0, intact.stderr);
  const recorded = /^checked 1 blob\(s\) \(0\.00 GiB read and hashed\) and the custody logs of \d+ case\(s\): all intact \(recorded as check ([0-9a-f-]{36})\)\n$/.exec(intact.stdout);
  t.ok(recorded, intact.stdout);
  t.match(await ctx.db.integrityCheck.findUniqueOrThrow({ where: { id: recorded![1]! } }), { trigger: 'command', blobsChecked: 1, bytesRead: BigInt(data.length), problemCount: 0, problems: [] }, 'the run is recorded');
  const json = await custodia(ctx, ['check', '--json']);
  t.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.match(report, { intact: true, blobs: { checked: 1, bytesRead: data.length, problems: [] }, custody: { problems: [] } });
  t.match(await ctx.db.integrityCheck.findUniqueOrThrow({ where: { id: report.checkId } }), { trigger: 'command', problemCount: 0 }, 'with its id in the JSON');

  await rm(join(ctx.dataDir, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256));
  const broken = await custodia(ctx, ['check']);
  t.equal(broken.code, 1, 'exit code 1 when anything is not intact');
  t.equal(broken.stdout.split('\n')[0], `blob ${sha256}: missing from the store; recorded for evidence ${item.body.id} (case ${testCase.id})`);
  t.match(broken.stdout, /: 1 problem\(s\) \(recorded as check [0-9a-f-]{36}\)\n$/);
  const brokenJson = await custodia(ctx, ['check', '--json']);
  t.equal(brokenJson.code, 1);
  const brokenReport = JSON.parse(brokenJson.stdout);
  t.match(brokenReport, { intact: false, blobs: { problems: [{ sha256, problem: 'missing', evidence: [{ id: item.body.id }] }] } });
  t.match(await ctx.db.integrityCheck.findUniqueOrThrow({ where: { id: brokenReport.checkId } }), { problemCount: 1, problems: [{ kind: 'blob', sha256, problem: 'missing' }] });
  t.equal(await ctx.db.integrityCheck.count(), 4, 'each run recorded once');

  await ctx.db.$executeRawUnsafe('ALTER TABLE integrity_checks RENAME TO integrity_checks_away');
  const unrecorded = await custodia(ctx, ['check']);
  await ctx.db.$executeRawUnsafe('ALTER TABLE integrity_checks_away RENAME TO integrity_checks');
  t.equal(unrecorded.code, 1, 'exit code 1 when the check could not be recorded');
  t.match(unrecorded.stdout, /: 1 problem\(s\)\n$/, 'the summary all the same, without a record id');
  t.match(unrecorded.stderr, /^custodia: check: the check ran but could not be recorded: .*integrity_checks/m);

  const usage = await custodia(ctx, ['check', '--repair']);
  t.equal(usage.code, 2);
  t.equal(await ctx.db.integrityCheck.count(), 4, 'a refused command checks nothing and records nothing');
  t.match(usage.stderr, /Unknown option '--repair'[\s\S]*usage: custodia check \[--json\]/);
});
