// `custodia verify <bundle.zip> [--key <pem>] [--json]`: exit 0 only when every check holds,
// 1 naming the first that does not, 2 on a usage error. Needs no configuration or database.
import { readFile } from 'node:fs/promises';
import { formatReport, progressBar } from './report.ts';
import { verifyBundle } from './verify-bundle.ts';

export const VERIFY_USAGE = 'usage: custodia verify <bundle.zip> [--key <trusted public key.pem>] [--json]\n';

type Io = { out: NodeJS.WritableStream; err: NodeJS.WriteStream };

function parseArgs(args: string[]): { bundle: string; key?: string; json: boolean } | string {
  let bundle: string | undefined;
  let key: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--key') {
      key = args[++i];
      if (key === undefined) return '--key needs a file';
    } else if (arg.startsWith('--key=')) key = arg.slice('--key='.length);
    else if (arg === '--json') json = true;
    else if (arg.startsWith('--')) return `unknown option ${arg}`;
    else if (bundle === undefined) bundle = arg;
    else return 'only one bundle at a time';
  }
  return bundle === undefined ? 'which bundle?' : { bundle, key, json };
}

export async function verifyCommand(args: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    io.err.write(`custodia verify: ${parsed}\n${VERIFY_USAGE}`);
    return 2;
  }
  let trustedKeyPem: string | undefined;
  if (parsed.key !== undefined) {
    try {
      trustedKeyPem = await readFile(parsed.key, 'utf8');
    } catch (error) {
      io.err.write(`custodia verify: cannot read the key ${parsed.key}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      return 2;
    }
  }
  const bar = io.err.isTTY && !parsed.json ? progressBar(io.err) : undefined;
  const report = await verifyBundle(parsed.bundle, { trustedKeyPem, onProgress: bar?.update });
  bar?.clear();
  io.out.write(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (!report.ok) io.err.write(`custodia verify: NOT VERIFIED: ${report.firstFailure!.check}: ${report.firstFailure!.problem}\n`);
  return report.ok ? 0 : 1;
}
