// The image starts the service exactly as `npm start` does: same node flags (they change how the
// service collects garbage under uploads; see the Dockerfile), same entry point.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import t from 'tap';

t.test('the Dockerfile CMD runs what npm start runs', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const dockerfile = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  t.ok(cmd, 'the Dockerfile has an exec-form CMD');
  t.same(JSON.parse(cmd!), pkg.scripts.start.split(/\s+/));
  t.match(pkg.scripts.start, /--max-semi-space-size=\d+/);
});

t.test('this node accepts those flags', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const flags = pkg.scripts.start.split(/\s+/).filter((arg) => arg.startsWith('--'));
  const { stderr } = await promisify(execFile)(process.execPath, [...flags, '-e', '0']);
  t.equal(stderr, '', 'no warning about an unknown flag');
});
