// `custodia check [--json]`: is everything we hold still what we recorded? Every stored blob is
// re-hashed against its hash and size (evidence.fixity.ts) and every case's custody log is
// recomputed against its stored checkpoints (verifyCaseLog, as `GET …/custody/verify` does, but
// without writing anything). Exit code 0 when all is intact, 1 when anything is not; the report
// names blobs, evidence and cases by their ids and hashes only, never by what they describe.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import type { Database } from '../database/client.ts';
import { verifyCaseLog } from '../modules/custody/custody.service.ts';
import { type BlobCheck, type BlobProblem, checkStoredBlobs } from '../modules/evidence/evidence.fixity.ts';
import { blobStoreFor } from '../storage/index.ts';

export interface CheckContext {
  loadConfig(): Config;
  withDatabase<T>(config: Config, run: (db: Database, url: string) => Promise<T>): Promise<T>;
  out: NodeJS.WritableStream;
}

export interface CustodyProblem {
  caseId: string;
  size: number;
  firstBadSeq?: number;
  reason?: string;
}

export interface CheckReport {
  intact: boolean;
  blobs: BlobCheck;
  custody: { cases: number; problems: CustodyProblem[] };
}

export async function runCheck(deps: { db: Database; config: Config }, onProblem: (line: string) => void = () => {}): Promise<CheckReport> {
  const blobs = await checkStoredBlobs({ db: deps.db, store: blobStoreFor(deps.config) }, (problem) => onProblem(describeBlobProblem(problem)));
  const problems: CustodyProblem[] = [];
  const cases = await deps.db.case.findMany({ select: { id: true }, orderBy: { id: 'asc' } });
  for (const { id } of cases) {
    const verification = await verifyCaseLog({ db: deps.db, config: deps.config }, id);
    if (verification.valid) continue;
    const problem = { caseId: id, size: verification.size, firstBadSeq: verification.firstBadSeq, reason: verification.reason };
    problems.push(problem);
    onProblem(`case ${id}: the custody log does not verify${problem.firstBadSeq === undefined ? '' : ` from seq ${problem.firstBadSeq}`}: ${problem.reason}`);
  }
  return { intact: blobs.problems.length === 0 && problems.length === 0, blobs, custody: { cases: cases.length, problems } };
}

function describeBlobProblem(problem: BlobProblem): string {
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

export async function checkCommand(args: string[], ctx: CheckContext): Promise<number> {
  let json: boolean;
  try {
    json = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true }).values.json;
  } catch (error) {
    process.stderr.write(`custodia: check: ${(error as Error).message}\n\nusage: custodia check [--json]\n`);
    return 2;
  }
  const config = ctx.loadConfig();
  const report = await ctx.withDatabase(config, (db) =>
    runCheck({ db, config }, (line) => {
      if (!json) ctx.out.write(`${line}\n`);
    }),
  );
  if (json) {
    ctx.out.write(`${JSON.stringify(report)}\n`);
  } else {
    const problems = report.blobs.problems.length + report.custody.problems.length;
    ctx.out.write(
      `checked ${report.blobs.checked} blob(s) (${(report.blobs.bytesRead / GiB).toFixed(2)} GiB read and hashed) and the custody logs of ${report.custody.cases} case(s): ` +
        `${problems === 0 ? 'all intact' : `${problems} problem(s)`}\n`,
    );
  }
  return report.intact ? 0 : 1;
}
