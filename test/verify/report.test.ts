import t from 'tap';
import { formatBytes, formatReport, progressBar } from '../../src/verify/report.ts';
import { CHECKS } from '../../src/verify/verify-bundle.ts';
import type { VerificationReport } from '../../src/verify/verify-bundle.ts';

const MiB = 1024 * 1024;

t.test('sizes', async (t) => {
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(3 * 1024 * MiB), '3.0 GiB');
});

t.test('a failed report names the first failure and lists every problem', async (t) => {
  const report: VerificationReport = {
    ok: false,
    path: 'x.zip',
    checks: CHECKS.map(([id, title]) => ({ id, title, status: 'ok', summary: 'fine', problems: [] })),
    firstFailure: { check: 'payload manifest (manifest-sha256.txt)', problem: 'data/a: SHA-256 is 00, manifest-sha256.txt says 11' },
    facts: {},
  };
  report.checks[6] = { ...report.checks[6]!, status: 'failed', problems: ['data/a: SHA-256 is 00, manifest-sha256.txt says 11', 'data/b: missing'] };
  report.checks[4] = { ...report.checks[4]!, status: 'skipped', summary: 'not checked: no --key given' };
  const text = formatReport(report);
  t.match(text, /\[FAIL\] payload manifest \(manifest-sha256.txt\)\s*\n\s+- data\/a: SHA-256 is 00/);
  t.match(text, /- data\/b: missing/);
  t.match(text, /\[--\]\s+trusted key \(--key\)\s+not checked: no --key given/);
  t.match(text, /NOT VERIFIED: payload manifest \(manifest-sha256.txt\): data\/a: SHA-256 is 00/);
  t.notMatch(text, /^VERIFIED/m);
});

t.test('the progress bar draws only for big bundles, at most ten times a second, and clears itself', async (t) => {
  let written = '';
  const stream = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
  const small = progressBar(stream);
  small.update(1, 10 * MiB);
  small.clear();
  t.equal(written, '', 'nothing for a small bundle');

  const bar = progressBar(stream);
  bar.update(0, 100 * MiB);
  bar.update(1 * MiB, 100 * MiB);
  bar.update(100 * MiB, 100 * MiB);
  const frames = written.split('\r').filter(Boolean);
  t.equal(frames.length, 2, 'throttled, but the last frame is drawn');
  t.match(frames[0], /\[-{30}\]\s+0%/);
  t.match(frames[1], /\[#{30}\] 100%  100\.0 MiB \/ 100\.0 MiB/);
  bar.clear();
  t.ok(written.endsWith('\r\x1b[K'));
});
