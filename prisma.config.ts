import { defineConfig } from 'prisma/config';

// Migrations are plain SQL applied by src/database/migrate.ts: Prisma's schema engine cannot be
// downloaded on air-gapped servers. The URL is only needed by Prisma's CLI, never to generate.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
