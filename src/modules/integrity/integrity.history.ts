// The record of the checks that ran (table integrity_checks, append-only): what each covered and
// what it found, by ids and hashes only. The metrics read the latest, so an operator can alert on
// a check that found problems and on one that has not run for too long; admins read them all
// through the API (GET /integrity-checks), where no Prometheus watches (a laptop in the field).
import { randomUUID } from 'node:crypto';
import type { Database } from '../../database/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { invalid, notFound } from '../../http/errors.ts';
import { decodeCursor, pageOf } from '../../http/pagination.ts';
import type { CheckProblem, CheckReport } from './integrity.check.ts';
import { LOWERCASE_UUID } from '../../http/uuid.ts';

/** Problems kept in one record (a wiped disk would otherwise make a row of megabytes); all are counted. */
export const RECORDED_PROBLEMS_MAX = 1000;

/** What started a check: the `integrity.check` job's schedule, or someone's `custodia check`. */
export type CheckTrigger = 'schedule' | 'command';

function problemsOf(report: CheckReport): CheckProblem[] {
  return [...report.blobs.problems.map((problem) => ({ kind: 'blob' as const, ...problem })), ...report.custody.problems.map((problem) => ({ kind: 'custody_log' as const, ...problem }))];
}

export async function recordCheck(db: Database, report: CheckReport, run: { trigger: CheckTrigger; startedAt: Date; finishedAt: Date }): Promise<string> {
  const problems = problemsOf(report);
  const id = randomUUID();
  await db.integrityCheck.create({
    data: {
      id,
      trigger: run.trigger,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      blobsChecked: report.blobs.checked,
      bytesRead: BigInt(report.blobs.bytesRead),
      casesChecked: report.custody.cases,
      problemCount: problems.length,
      problems: JSON.parse(JSON.stringify(problems.slice(0, RECORDED_PROBLEMS_MAX))) as Prisma.InputJsonArray,
    },
  });
  return id;
}

export interface LastCheck {
  finishedAt: Date;
  blobsChecked: number;
  bytesRead: number;
  problemCount: number;
}

/** The check that finished last, or null before the first. */
export async function lastCheck(db: Database): Promise<LastCheck | null> {
  const row = await db.integrityCheck.findFirst({
    orderBy: { finishedAt: 'desc' },
    select: { finishedAt: true, blobsChecked: true, bytesRead: true, problemCount: true },
  });
  return row && { ...row, bytesRead: Number(row.bytesRead) };
}

export interface CheckRecordSummary {
  id: string;
  trigger: CheckTrigger;
  startedAt: string;
  finishedAt: string;
  blobsChecked: number;
  bytesRead: number;
  casesChecked: number;
  problemCount: number;
}

export interface CheckRecord extends CheckRecordSummary {
  /** The first RECORDED_PROBLEMS_MAX problems found. */
  problems: CheckProblem[];
}

const SUMMARY = { id: true, trigger: true, startedAt: true, finishedAt: true, blobsChecked: true, bytesRead: true, casesChecked: true, problemCount: true } as const;

type SummaryRow = Prisma.IntegrityCheckGetPayload<{ select: typeof SUMMARY }>;

function summaryOf(row: SummaryRow): CheckRecordSummary {
  return { ...row, trigger: row.trigger as CheckTrigger, startedAt: row.startedAt.toISOString(), finishedAt: row.finishedAt.toISOString(), bytesRead: Number(row.bytesRead) };
}

function cursorOf(cursor: string | undefined): { finishedAt: Date; id: string } | null {
  const key = decodeCursor(cursor, ['string', 'string']);
  if (!key) return null;
  const finishedAt = new Date(key[0] as string);
  if (Number.isNaN(finishedAt.getTime()) || !LOWERCASE_UUID.test(key[1] as string)) throw invalid('querystring.cursor', 'is not a cursor this list gave out');
  return { finishedAt, id: key[1] as string };
}

/** The recorded checks, the latest first, without their problems (a page could otherwise hold megabytes). */
export async function listChecks(db: Database, query: { limit?: number; cursor?: string }): Promise<{ items: CheckRecordSummary[]; nextCursor: string | null }> {
  const limit = query.limit ?? 50;
  const after = cursorOf(query.cursor);
  const rows = await db.integrityCheck.findMany({
    where: after ? { OR: [{ finishedAt: { lt: after.finishedAt } }, { finishedAt: after.finishedAt, id: { lt: after.id } }] } : {},
    orderBy: [{ finishedAt: 'desc' }, { id: 'desc' }],
    take: limit + 1,
    select: SUMMARY,
  });
  return pageOf(rows.map(summaryOf), limit, (check) => [check.finishedAt, check.id]);
}

export async function getCheck(db: Database, id: string): Promise<CheckRecord> {
  const row = await db.integrityCheck.findUnique({ where: { id }, select: { ...SUMMARY, problems: true } });
  if (!row) throw notFound('integrity check');
  return { ...summaryOf(row), problems: row.problems as unknown as CheckProblem[] };
}
