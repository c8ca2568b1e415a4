// Generates the Prisma client without downloading Prisma's schema engine: `prisma generate`
// never runs the engine, but the CLI insists that its binary exists. Air-gapped servers and
// this project's CI cannot download it, and our migrations are plain SQL (src/database/migrate.ts).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(`${root}/prisma/schema.prisma`)) process.exit(0);
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
env.CHECKPOINT_DISABLE = '1';
execFileSync(process.execPath, [`${root}/node_modules/prisma/build/index.js`, 'generate'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
