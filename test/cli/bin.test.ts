// bin/custodia.js (what `npm start` and the `custodia` command run) starts the same command line
// as src/cli.ts, whether it runs the build in dist/ or the sources through tsx.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { childEnv, ROOT } from '../helpers/cli.ts';

t.test('bin/custodia.js runs the command line', async (t) => {
  const run = (args: string[]) => spawnSync(process.execPath, args, { cwd: ROOT, env: childEnv({ DATABASE_URL: '' }), encoding: 'utf8' });
  const viaBin = run(['bin/custodia.js']);
  const viaSource = run(['--import', 'tsx', 'src/cli.ts']);
  t.equal(viaBin.status, viaSource.status);
  t.match(viaBin.stdout, /^usage: custodia <command>/);
  t.equal(viaBin.stdout, viaSource.stdout, 'the same usage text');
  const refused = run(['bin/custodia.js', 'verify']);
  t.equal(refused.status, run(['--import', 'tsx', 'src/cli.ts', 'verify']).status);
  t.match(refused.stderr, /which bundle/);
});
