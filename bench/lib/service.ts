// How the benchmarks start the service: exactly as `npm start` does (its node flags included,
// read from package.json, which a test keeps equal to the Dockerfile's CMD), without npm.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The arguments `npm start` gives node (flags, then bin/custodia.js serve). */
export function serviceArgs(): string[] {
  const start = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [node, ...args] = start.split(/\s+/);
  if (node !== 'node' || !args.includes('bin/custodia.js')) throw new Error(`npm start runs "${start}", not node bin/custodia.js`);
  return args;
}
