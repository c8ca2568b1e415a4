#!/usr/bin/env node
// The `custodia` command (and `npm start`): runs the compiled dist/cli.js, or src/cli.ts through
// tsx when there is no build or a source file changed after it (a developer's checkout).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function buildIsCurrent() {
  const stamp = join(root, 'dist/.built');
  if (!existsSync(stamp)) return false;
  // An image may ship dist/ without src/.
  if (!existsSync(join(root, 'src'))) return true;
  return newestSource(join(root, 'src')) <= statSync(stamp).mtimeMs;
}

if (buildIsCurrent()) {
  await import('../dist/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
