// Is everything we hold still what we recorded? Every stored blob is re-hashed against its hash
// and size (evidence.fixity.ts) and every case's custody log is recomputed against its stored
// checkpoints (verifyCaseLog, as `GET …/custody/verify` does, but without writing anything).
// `custodia check` runs it on demand, the `integrity.check` job on CUSTODIA_CHECK_SCHEDULE; each
// run is then recorded (integrity.history.ts). Problems are named by ids and hashes only, never by
// what the items describe.
import type { Config } from '../../config.ts';
import type { Database } from '../../database/client.ts';
import { blobStoreFor } from '../../storage/index.ts';
import { verifyCaseLog } from '../custody/custody.service.ts';
import { type BlobCheck, type BlobCheckProgress, type BlobProblem, checkStoredBlobs } from '../evidence/evidence.fixity.ts';
import { type CheckTrigger, recordCheck } from './integrity.history.ts';

export interface CustodyProblem {
  caseId: string;
  size: number;
  firstBadSeq?: number;
  reason?: string;
}

export type CheckProblem = ({ kind: 'blob' } & BlobProblem) | ({ kind: 'custody_log' } & CustodyProblem);

export interface CheckReport {
  intact: boolean;
  blobs: BlobCheck;
  custody: { cases: number; problems: CustodyProblem[] };
}

export interface CheckDeps {
  db: Database;
  config: Pick<Config, 'dataDir' | 'directIo' | 'instanceId'>;
}

/** What hears of a check as it goes: each problem as it is found, and how far it has come. */
export interface CheckListeners {
  onProblem?: (problem: CheckProblem) => void;
  onProgress?: (progress: BlobCheckProgress) => void;
}

/** Checks every blob, then every case's log. */
export async function checkHoldings(deps: CheckDeps, { onProblem = () => {}, onProgress }: CheckListeners = {}): Promise<CheckReport> {
  const blobs = await checkStoredBlobs({ db: deps.db, store: blobStoreFor(deps.config) }, (problem) => onProblem({ kind: 'blob', ...problem }), onProgress);
  const problems: CustodyProblem[] = [];
  const cases = await deps.db.case.findMany({ select: { id: true }, orderBy: { id: 'asc' } });
  for (const { id } of cases) {
    const verification = await verifyCaseLog({ db: deps.db, config: deps.config }, id);
    if (verification.valid) continue;
    const problem = { caseId: id, size: verification.size, firstBadSeq: verification.firstBadSeq, reason: verification.reason };
    problems.push(problem);
    onProblem({ kind: 'custody_log', ...problem });
  }
  return { intact: blobs.problems.length === 0 && problems.length === 0, blobs, custody: { cases: cases.length, problems } };
}

/**
 * The check, then its record: what `custodia check` and the job run. A record that cannot be
 * written (the database gone after hours of reading) loses nothing else: the report stands, with
 * the reason instead of a record id, for the caller to say so.
 */
export async function checkAndRecord(
  deps: CheckDeps,
  trigger: CheckTrigger,
  listeners: CheckListeners = {},
): Promise<{ report: CheckReport; checkId: string; recordFailure: null } | { report: CheckReport; checkId: null; recordFailure: Error }> {
  const startedAt = new Date();
  const report = await checkHoldings(deps, listeners);
  try {
    return { report, checkId: await recordCheck(deps.db, report, { trigger, startedAt, finishedAt: new Date() }), recordFailure: null };
  } catch (error) {
    // Prisma's messages quote the calling source over a dozen lines; the cause is the last one.
    const message = (error instanceof Error ? error.message : String(error)).trim().split('\n').at(-1)!.trim();
    return { report, checkId: null, recordFailure: new Error(message, { cause: error }) };
  }
}

/** One line for a terminal or a log message. */
export function describeProblem(problem: CheckProblem): string {
  if (problem.kind === 'custody_log') {
    const from = problem.firstBadSeq === undefined ? '' : ` from seq ${problem.firstBadSeq}`;
    return `case ${problem.caseId}: the custody log does not verify${from}: ${problem.reason}`;
  }
  const what = {
    missing: 'missing from the store',
    size_differs: `holds ${problem.found?.sizeBytes} bytes, not the recorded size`,
    bytes_differ: `its bytes hash to ${problem.found?.sha256}`,
    unreadable: `cannot be read (${problem.error})`,
  }[problem.problem];
  const evidence = problem.evidence.map((item) => `evidence ${item.id} (case ${item.caseId})`).join(', ') || 'no evidence';
  return `blob ${problem.sha256}: ${what}; recorded for ${evidence}`;
}

const GiB = 1024 ** 3;

const problemCount = (report: CheckReport) => report.blobs.problems.length + report.custody.problems.length;

export function summarise(report: CheckReport): string {
  const problems = problemCount(report);
  return (
    `checked ${report.blobs.checked} blob(s) (${(report.blobs.bytesRead / GiB).toFixed(2)} GiB read and hashed) and the custody logs of ${report.custody.cases} case(s): ` +
    `${problems === 0 ? 'all intact' : `${problems} problem(s)`}`
  );
}

export interface CheckJobResult {
  /** Null when the record could not be written (logged). */
  checkId: string | null;
  intact: boolean;
  blobsChecked: number;
  bytesRead: number;
  cases: number;
  problems: number;
}

/** How often a running check logs how far it has come (a large archive takes hours). */
export const PROGRESS_LOG_MS = 60_000;

/**
 * The `integrity.check` job: the check, each problem logged at error level as it is found (what
 * an operator alerts on), its progress at info level every `progressEveryMs`, the summary at info
 * level, or error when anything is not intact.
 */
export async function runIntegrityCheck(
  deps: CheckDeps & { log: { info(object: object, message: string): void; error(object: object, message: string): void }; progressEveryMs?: number },
): Promise<CheckJobResult> {
  const every = deps.progressEveryMs ?? PROGRESS_LOG_MS;
  let logged = Date.now();
  const onProgress = (progress: BlobCheckProgress) => {
    if (Date.now() - logged < every || progress.checked === progress.blobs) return;
    logged = Date.now();
    deps.log.info({ progress }, `integrity check: ${progress.checked} of ${progress.blobs} blob(s), ${(progress.bytesRead / GiB).toFixed(2)} of ${(progress.bytes / GiB).toFixed(2)} GiB`);
  };
  const onProblem = (problem: CheckProblem) => deps.log.error({ integrity: problem }, describeProblem(problem));
  const { report, checkId, recordFailure } = await checkAndRecord(deps, 'schedule', { onProblem, onProgress });
  if (recordFailure) deps.log.error({ err: { message: recordFailure.message } }, 'the integrity check ran but could not be recorded: the metrics still show the previous one');
  const result: CheckJobResult = {
    checkId,
    intact: report.intact,
    blobsChecked: report.blobs.checked,
    bytesRead: report.blobs.bytesRead,
    cases: report.custody.cases,
    problems: problemCount(report),
  };
  if (report.intact) deps.log.info(result, summarise(report));
  else deps.log.error(result, summarise(report));
  return result;
}
