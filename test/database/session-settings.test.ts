// Every connection of the service's pool carries SESSION_SETTINGS (the planner's cost of a random
// page read suited to memory or SSD), through Prisma and the pool under it alike.
import t from 'tap';
import { sqlPool } from '../../src/database/client.ts';
import { createTestContext } from '../helpers/app.ts';

t.test('the service plans for memory or SSD on every connection', async (t) => {
  const ctx = await createTestContext(t);
  const viaPrisma = await Promise.all(Array.from({ length: 6 }, () => ctx.db.$queryRaw<{ cost: string }[]>`SELECT current_setting('random_page_cost') AS cost`));
  t.same(new Set(viaPrisma.map(([row]) => row!.cost)), new Set(['1.1']));
  const { rows } = await sqlPool(ctx.db).query<{ cost: string }>("SELECT current_setting('random_page_cost') AS cost");
  t.equal(rows[0]!.cost, '1.1');
});
