// Runs the real `custodia` command (`node --import tsx src/cli.ts …`) in a child process.
//
// The child gets the test's environment without tap's settings, and with coverage off
// (_TAPJS_PROCESSINFO_COVERAGE_=0: tap's process tracker re-adds its loader to every child it
// sees spawned, whatever the environment says, and records coverage unless told not to). A child
// that loads src/ through tsx would otherwise report V8 coverage for the same files as tap's own
// loader with other offsets, and merging the two corrupts the report (most of src/ vanished from
// it in one CI run); one that runs dist/ would add the build's files to it.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

export function childEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('TAP') || key.startsWith('_TAPJS_') || key === 'NODE_OPTIONS' || key === 'NODE_V8_COVERAGE') delete env[key];
  }
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0';
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export function spawnCustodia(
  args: string[],
  env: Record<string, string | undefined>,
  stdio: StdioOptions = ['pipe', 'pipe', 'pipe'],
): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: childEnv(env), stdio });
}

/** Runs a custodia command to its end; resolves with its exit code and output. */
export function runCustodia(
  args: string[],
  env: Record<string, string | undefined>,
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnCustodia(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin!.end(stdin);
  });
}
