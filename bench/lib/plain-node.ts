// Runs a baseline of ours (a bare server written in TypeScript that imports packages only) the way
// the service runs: compiled, by plain node. Under tsx the same process spent about twice the CPU
// on its HTTP receive path (bench:ingest's bare receiver: 0.8-1.0 s of user time per GiB against
// 0.35), which made a baseline the service could seem to reach.
import { readFile } from 'node:fs/promises';
import ts from 'typescript';

/** Node arguments that run the TypeScript file at `path` (its imports resolve from the child's cwd). */
export async function plainNodeArgs(path: string): Promise<string[]> {
  const source = await readFile(path, 'utf8');
  const compiled = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  return ['--input-type=module', '--eval', compiled];
}
