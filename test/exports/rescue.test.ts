import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { JobDeps } from '../../src/jobs/jobs.ts';
import { EXPORT_QUEUE, exportRescueDefinition } from '../../src/modules/exports/exports.queue.ts';
import { createTestContext } from '../helpers/app.ts';

t.test('exports.rescue queues a new attempt for an export whose worker stopped beating, and only for it', async (t) => {
  const ctx = await createTestContext(t);
  const testCase = await ctx.createCase();
  const lead = testCase.users.lead.id;
  const insert = (status: string, heartbeatSecondsAgo: number | null) =>
    ctx.db.$queryRaw<{ id: string }[]>`
      INSERT INTO exports (id, case_id, created_by, redaction, status, attempts, heartbeat_at)
      VALUES (${randomUUID()}::uuid, ${testCase.id}::uuid, ${lead}::uuid, 'protect_witnesses', ${status}, 1,
              CASE WHEN ${heartbeatSecondsAgo}::int IS NULL THEN NULL ELSE now() - make_interval(secs => ${heartbeatSecondsAgo}::int) END)
      RETURNING id::text`;
  const [crashed] = await insert('running', 600);
  const [alive] = await insert('running', 1);
  await insert('done', 600).catch(() => undefined); // refused by the CHECK: done needs a bundle
  await insert('queued', null);

  const sent: { name: string; data: unknown; options: unknown }[] = [];
  const deps = { db: ctx.db, config: ctx.config, log: ctx.app.log } as unknown as JobDeps;
  await exportRescueDefinition.handler({}, deps, {
    send: async (name, data, options) => {
      sent.push({ name, data, options });
      return 'job';
    },
  });
  t.same(sent.map((s) => [s.name, s.data]), [[EXPORT_QUEUE, { exportId: crashed!.id }]], 'one new attempt, for the silent one');
  t.match(sent[0]!.options, { singletonKey: `rescue:${crashed!.id}`, retryLimit: 0 });
  t.notOk(sent.some((s) => (s.data as { exportId: string }).exportId === alive!.id), 'a live attempt is left alone');
  t.ok(exportRescueDefinition.options.schedule?.({ config: ctx.config }), 'scheduled');
});

t.test('exports.rescue removes the work directories that exports of an earlier version left', async (t) => {
  const ctx = await createTestContext(t);
  const left = join(ctx.config.dataDir, 'exports', 'work', randomUUID());
  await mkdir(left, { recursive: true });
  await writeFile(join(left, 'bundle.zip'), 'a partial zip with copies of evidence');
  const warnings: unknown[] = [];
  const deps = { db: ctx.db, config: ctx.config, log: { warn: (object: unknown) => warnings.push(object) } } as unknown as JobDeps;
  const jobs = { send: async () => 'job' };
  await exportRescueDefinition.handler({}, deps, jobs);
  t.notOk(existsSync(join(ctx.config.dataDir, 'exports', 'work')), 'gone');
  t.same(warnings, [{ removed: 1 }], 'and said so, once');
  await exportRescueDefinition.handler({}, deps, jobs);
  t.same(warnings, [{ removed: 1 }], 'nothing to say when there is nothing left');
});
