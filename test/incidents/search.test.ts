import t from 'tap';
import { createTestContext } from '../helpers/app.ts';

t.test('incidents: search', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const lead = c.users.lead;
  const url = `/api/v1/cases/${c.id}/incidents`;
  const make = async (body: Record<string, unknown>) => {
    const res = await ctx.json(lead, 'POST', url, { occurredFrom: '2024-01-10', ...body });
    t.equal(res.status, 201, `created ${String(body.title)}`);
    return res.body.id as string;
  };
  const executions = await make({ title: 'Exécutions sommaires à Bunia', summary: 'Des civils abattus.', categories: ['extrajudicial_execution'], location: { name: 'Bunia', country: 'CD', lat: 1.56, lon: 30.25 } });
  const massacres = await make({ title: 'Massacres de Kishishe', summary: 'Plusieurs villages attaqués.', occurredFrom: '2022-11-01', occurredTo: '2022-12-01', datePrecision: 'month', categories: ['killing'], location: { name: 'Kishishe', country: 'CD', lat: -1.26, lon: 29.1 } });
  const killing = await make({ title: 'Killing of a journalist', summary: 'Shot near the bridge in Goma.', occurredFrom: '2023-01-01', datePrecision: 'year', categories: ['killing', 'attack_on_defenders_journalists'], location: { name: 'Goma', country: 'CD', lat: -1.68, lon: 29.22 } });
  const detention = await make({ title: 'Arbitrary detention in Kyiv', summary: 'Detained without charge.', occurredFrom: '2024-05-02', categories: ['arbitrary_detention'], location: { name: 'Kyiv', adminArea: 'Київ', country: 'UA', lat: 50.45, lon: 30.52 } });
  const fiji = await make({ title: 'Displacement near the antimeridian', summary: 'Families forced to leave Taveuni.', occurredFrom: '2024-02-01', location: { name: 'Taveuni', country: 'FJ', lat: -16.8, lon: 179.9 } });
  const retracted = await make({ title: 'Massacre report later retracted', occurredFrom: '2024-01-10' });
  await ctx.json(lead, 'POST', `/api/v1/incidents/${retracted}/retract`, { reason: 'fabricated' }, { 'if-match': '"1"' });

  const ids = async (query: string) => {
    const res = await ctx.json(c.users.observer, 'GET', `${url}?${query}`);
    t.equal(res.status, 200, query);
    return (res.body.items as { id: string }[]).map((i) => i.id);
  };

  t.same(await ids('q=executions%20sommaires'), [executions], 'without accents');
  t.same(await ids('q=EX%C3%89CUTION'), [executions], 'case- and accent-insensitive, French stem');
  t.same(await ids('q=massacre'), [massacres], 'stem: massacre finds massacres; retracted excluded');
  t.same((await ids('q=massacre&includeRetracted=true')).sort(), [massacres, retracted].sort(), 'includeRetracted');
  t.same(await ids('q=killed'), [killing], 'stem: killed finds killing');
  t.same(await ids('q=goma'), [killing], 'location names in summary');
  t.same(await ids('q=kishishe'), [massacres], 'location names');
  t.same(await ids('q=bunia%20kyiv'), [], 'all words must match');

  t.same(await ids('category=killing'), [killing, massacres], 'category, newest first');
  t.same((await ids('category=killing&category=arbitrary_detention')).sort(), [killing, massacres, detention].sort(), 'any of several categories');
  t.same(await ids('country=ua'), [detention], 'country');
  t.same(await ids('status=draft&country=FJ'), [fiji]);
  t.same(await ids('from=2022-12-15&to=2022-12-20'), [massacres], 'overlap with a month-precise period');
  t.same(await ids('from=2023-06-01&to=2023-06-30'), [killing], 'overlap with a year-precise date');
  t.same(await ids('from=2024-01-10&to=2024-01-10'), [executions], 'a one-day range');
  t.same((await ids('bbox=28,-2,31,2')).sort(), [executions, massacres, killing].sort(), 'bbox');
  t.same(await ids('bbox=179,-17,-179,-16'), [fiji], 'bbox across the antimeridian');
  t.same(await ids('q=killing&bbox=29,-2,30,-1'), [killing], 'text + bbox');

  for (const [query, path] of [
    ['bbox=1,2,3', 'querystring.bbox'],
    ['bbox=a,b,c,d', 'querystring.bbox'],
    ['bbox=0,10,1,5', 'querystring.bbox'],
    ['from=2024-13-01', 'querystring.from'],
    ['from=2024-02-01&to=2024-01-01', 'querystring.to'],
    ['country=FRA', 'querystring.country'],
    ['status=bogus', 'querystring.status.0'],
    ['limit=0', 'querystring.limit'],
    ['cursor=nonsense', 'querystring.cursor'],
    ['nope=1', 'querystring.nope'],
    [`q=${'x'.repeat(501)}`, 'querystring.q'],
  ] as [string, string][]) {
    const res = await ctx.json(lead, 'GET', `${url}?${query}`);
    t.equal(res.status, 400, query);
    t.equal(res.body.errors?.[0]?.path, path, `${query} names ${path}`);
  }
  const rankedCursor = Buffer.from(JSON.stringify([0.5, 'not-a-uuid'])).toString('base64url');
  t.equal((await ctx.json(lead, 'GET', `${url}?q=x&cursor=${rankedCursor}`)).status, 400);
  t.equal((await ctx.json(lead, 'GET', `${url}?cursor=${rankedCursor}`)).status, 400, 'a ranked cursor on an unranked list');
});

t.test('incidents: pagination gives every match exactly once', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  const words = ['massacre', 'massacres', 'massacre massacre', 'attaque', 'massacre des civils'];
  // Many rows created in the same millisecond and many equal ranks: the keys must still be total.
  await ctx.db.incident.createMany({
    data: Array.from({ length: 137 }, (_, i) => ({
      caseId: c.id,
      title: `Incident ${i} ${words[i % words.length]}`,
      occurredFrom: new Date('2024-01-01'),
      createdBy: c.users.lead.id,
      createdAt: new Date('2024-06-01T00:00:00Z'),
    })),
  });
  for (const query of ['', 'q=massacre&', 'q=incident&']) {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await ctx.json(
        c.users.reviewer,
        'GET',
        `/api/v1/cases/${c.id}/incidents?${query}limit=10${cursor ? `&cursor=${cursor}` : ''}`,
      );
      t.equal(res.status, 200);
      seen.push(...res.body.items.map((i) => i.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    const expected = await ctx.db.incident.count({ where: query.includes('massacre') ? { title: { contains: 'massacre' } } : {} });
    t.equal(seen.length, expected, `${query || 'unranked'}: every match`);
    t.equal(new Set(seen).size, seen.length, `${query || 'unranked'}: no duplicates`);
  }
});
