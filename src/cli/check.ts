// `custodia check [--json]`: the integrity check of everything held (integrity.check.ts), one
// line per problem as it is found and a summary, or the whole report as JSON; the run is recorded
// like the scheduled ones. Exit code 0 when all is intact and recorded, 1 when anything is not.
import { parseArgs } from 'node:util';
import { checkAndRecord, describeProblem, summarise } from '../modules/integrity/integrity.check.ts';
import type { CommandContext } from './context.ts';

export async function checkCommand(args: string[], ctx: CommandContext): Promise<number> {
  let json: boolean;
  try {
    json = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true }).values.json;
  } catch (error) {
    process.stderr.write(`custodia: check: ${(error as Error).message}\n\nusage: custodia check [--json]\n`);
    return 2;
  }
  const config = ctx.loadConfig();
  const { report, checkId, recordFailure } = await ctx.withDatabase(config, (db) =>
    checkAndRecord({ db, config }, 'command', {
      onProblem: (problem) => {
        if (!json) ctx.out.write(`${describeProblem(problem)}\n`);
      },
    }),
  );
  ctx.out.write(`${json ? JSON.stringify({ checkId, ...report }) : `${summarise(report)}${checkId ? ` (recorded as check ${checkId})` : ''}`}\n`);
  if (recordFailure) process.stderr.write(`custodia: check: the check ran but could not be recorded: ${recordFailure.message}\n`);
  return report.intact && !recordFailure ? 0 : 1;
}
