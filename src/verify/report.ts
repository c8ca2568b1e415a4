// The human-readable report of `custodia verify`, and its progress bar.
import type { VerificationReport } from './verify-bundle.ts';

const MiB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

const MARK = { ok: '[ok]  ', failed: '[FAIL]', skipped: '[--]  ' } as const;

export function formatReport(report: VerificationReport): string {
  const f = report.facts;
  const lines = [`Custodia case file verification: ${report.path}`];
  if (f.exportId !== undefined) {
    lines.push(`  export ${f.exportId} of case ${f.caseReference} (${f.caseId}), redaction ${f.redaction}`);
    lines.push(`  created ${f.createdAt} by user ${f.createdBy}`);
  }
  if (f.payloadFiles !== undefined) {
    lines.push(
      `  payload: ${f.payloadFiles} files, ${formatBytes(f.payloadBytes ?? 0)}; ${f.evidenceFiles ?? 0} evidence files; ${f.logEntries ?? 0} custody entries` +
        (f.checkpointSize === undefined ? '' : `; checkpoint of ${f.checkpointSize} entries`),
    );
  }
  lines.push('');
  const width = Math.max(...report.checks.map((c) => c.title.length));
  for (const check of report.checks) {
    lines.push(`  ${MARK[check.status]} ${check.title.padEnd(width)}  ${check.status === 'failed' ? '' : check.summary}`.trimEnd());
    for (const problem of check.problems) lines.push(`         - ${problem}`);
  }
  lines.push('');
  if (report.ok) {
    lines.push('VERIFIED: every check holds.');
    if (report.checks.find((c) => c.id === 'trustedKey')?.status === 'skipped') {
      lines.push(
        `Note: the bundled public key only proves that the bag is consistent with itself. Compare its fingerprint`,
        `(${f.keyFingerprint}) with the key the organisation publishes (GET /api/v1/custody/keys), or pass that key with --key.`,
      );
    }
  } else {
    lines.push(`NOT VERIFIED: ${report.firstFailure!.check}: ${report.firstFailure!.problem}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A one-line progress bar, redrawn at most ten times a second, for bundles of 64 MiB and more. */
export function progressBar(stream: NodeJS.WriteStream): { update(done: number, total: number): void; clear(): void } {
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (total < 64 * MiB || (now - last < 100 && done < total)) return;
      last = now;
      shown = true;
      const fraction = total === 0 ? 1 : Math.min(1, done / total);
      const filled = Math.round(fraction * 30);
      stream.write(
        `\r  verifying [${'#'.repeat(filled)}${'-'.repeat(30 - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(done)} / ${formatBytes(total)}`,
      );
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
