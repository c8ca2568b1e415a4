// Custody log lines withheld by the redaction ({seq, withheld, leafHash, inclusionProof}): their
// place in the checkpoint's tree is still proven, and a wrong hash or proof is caught.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import type { BundleLogLine } from '../../src/modules/exports/bundle/bundle-writer.ts';
import { verifyBundle } from '../../src/verify/verify-bundle.ts';
import { makeFixture, writeBundle } from '../exports/fixture.ts';

async function bundleWith(t: Test, change: (line: BundleLogLine & { entry: unknown }) => BundleLogLine | Record<string, unknown>) {
  const fixture = await makeFixture();
  t.teardown(fixture.cleanup);
  const lines = [...fixture.plan.custody.lines];
  // The first `collected` line (it would carry a file name), withheld.
  const first = lines[0] as BundleLogLine & { entry: unknown };
  lines[0] = change(first) as BundleLogLine;
  const path = join(fixture.dir, 'bundle.zip');
  await writeBundle({ ...fixture.plan, custody: { ...fixture.plan.custody, lines } }, { path, signingKey: fixture.key });
  return verifyBundle(path);
}

t.test('a withheld line with its proof verifies, and says so', async (t) => {
  const report = await bundleWith(t, (line) => ({ seq: line.seq, withheld: 'mentions a witness identity', leafHash: line.leafHash, inclusionProof: line.inclusionProof }));
  t.equal(report.ok, true, JSON.stringify(report.firstFailure));
  t.match(report.checks.find((c) => c.id === 'custodyLog'), { status: 'ok' });
});

t.test('a withheld line whose leaf hash or proof is wrong fails the custody log', async (t) => {
  for (const [what, change] of [
    ['leaf hash', (line: BundleLogLine) => ({ seq: line.seq, withheld: 'x', leafHash: 'ab'.repeat(32), inclusionProof: line.inclusionProof })],
    ['proof', (line: BundleLogLine) => ({ seq: line.seq, withheld: 'x', leafHash: line.leafHash, inclusionProof: line.inclusionProof.slice(1) })],
    ['seq', (line: BundleLogLine) => ({ seq: line.seq + 1, withheld: 'x', leafHash: line.leafHash, inclusionProof: line.inclusionProof })],
    ['reason', (line: BundleLogLine) => ({ seq: line.seq, withheld: 5, leafHash: line.leafHash, inclusionProof: line.inclusionProof })],
    ['shape', (line: BundleLogLine) => ({ seq: line.seq, withheld: 'x', leafHash: 'not hex', inclusionProof: line.inclusionProof })],
  ] as const) {
    const report = await bundleWith(t, change);
    t.equal(report.ok, false, `a wrong ${what} fails`);
    t.equal(report.firstFailure?.check, 'custody log and inclusion proofs', `a wrong ${what} is named`);
  }
});
