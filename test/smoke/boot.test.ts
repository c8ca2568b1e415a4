import t from 'tap';
import { createTestContext } from '../helpers/app.ts';

t.test('the app boots and answers problems', async (t) => {
  const ctx = await createTestContext(t);
  const live = await ctx.json(null, 'GET', '/health/live');
  t.equal(live.status, 200);
  const missing = await ctx.json(null, 'GET', '/api/v1/nope');
  t.equal(missing.status, 404);
  t.equal(missing.body.code, 'not_found');
  t.ok(missing.headers['x-request-id']);
  const c = await ctx.createCase();
  t.ok(c.users.lead.token);
});
