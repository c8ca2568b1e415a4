// The record of the checks that ran (table integrity_checks, append-only): what each covered and
// what it found, by ids and hashes only. The metrics read the latest, so an operator can alert on
// a check that found problems and on one that has not run for too long.
import { randomUUID } from 'node:crypto';
import type { Database } from '../../database/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { CheckProblem, CheckReport } from './integrity.check.ts';

/** Problems kept in one record (a wiped disk would otherwise make a row of megabytes); all are counted. */
export const RECORDED_PROBLEMS_MAX = 1000;

/** What started a check: the `integrity.check` job's schedule, or someone's `custodia check`. */
export type CheckTrigger = 'schedule' | 'command';

export function problemsOf(report: CheckReport): CheckProblem[] {
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
