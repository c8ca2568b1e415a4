// `npm run bench:search`: 100,000 incidents (French and English text) in a scratch database, then
// p50/p95 latency of five search shapes through the HTTP API (app.inject: routing, auth, the
// permission check, validation, serialisation) beside the same SQL run directly with node-postgres.
// Figures printed, not asserted. Goal: p95 ≤ 50 ms through the API.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createMasterKeyring, generateMasterKey, generateSigningKey, masterKeyToBase64 } from '../src/crypto/index.ts';
import { createDatabaseClient, SESSION_SETTINGS } from '../src/database/client.ts';
import { createMetrics } from '../src/http/metrics.ts';
import { newToken } from '../src/modules/auth/tokens.ts';
import { violationCodes } from '../src/modules/incidents/violation-codes.ts';
import { scratchDatabase } from './lib/database.ts';
import { percentile, report, timeEach } from './lib/report.ts';

const INCIDENTS = Number(process.env.BENCH_INCIDENTS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);

// A small deterministic generator, so that runs compare.
let state = 0x2f6b3a1d;
const random = () => ((state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const PLACES: [string, string, string, number, number][] = [
  ['Bunia', 'Ituri', 'CD', 1.56, 30.25], ['Goma', 'Nord-Kivu', 'CD', -1.68, 29.22], ['Beni', 'Nord-Kivu', 'CD', 0.49, 29.47],
  ['Kalehe', 'Sud-Kivu', 'CD', -2.1, 28.9], ['Uvira', 'Sud-Kivu', 'CD', -3.4, 29.14], ['Kananga', 'Kasaï-Central', 'CD', -5.9, 22.42],
  ['Kharkiv', 'Kharkivska', 'UA', 49.99, 36.23], ['Bucha', 'Kyivska', 'UA', 50.54, 30.21], ['Mariupol', 'Donetska', 'UA', 47.1, 37.55],
  ['Izium', 'Kharkivska', 'UA', 49.21, 37.26], ['Kherson', 'Khersonska', 'UA', 46.64, 32.61], ['El Geneina', 'West Darfur', 'SD', 13.45, 22.44],
  ['Nyala', 'South Darfur', 'SD', 12.05, 24.88], ['Aleppo', 'Alep', 'SY', 36.2, 37.16], ['Idlib', 'Idlib', 'SY', 35.93, 36.63],
  ['Sittwe', 'Rakhine', 'MM', 20.15, 92.9], ['Maungdaw', 'Rakhine', 'MM', 20.82, 92.36], ['Ménaka', 'Ménaka', 'ML', 15.92, 2.4],
  ['Mopti', 'Mopti', 'ML', 14.49, -4.2], ['Djibo', 'Sahel', 'BF', 14.1, -1.63], ['Bamenda', 'Nord-Ouest', 'CM', 5.96, 10.15],
  ['Port-au-Prince', 'Ouest', 'HT', 18.54, -72.34], ['Mekelle', 'Tigray', 'ET', 13.5, 39.47], ['Bangui', 'Bangui', 'CF', 4.36, 18.56],
];
const FR_EVENTS = [
  'Exécutions sommaires de civils', 'Massacre de villageois', 'Arrestations arbitraires de manifestants', 'Disparitions forcées de jeunes hommes',
  'Torture dans un centre de détention', 'Violences sexuelles contre des femmes', 'Pillage et incendie de maisons', 'Bombardement d’un marché',
  'Attaque contre un hôpital', 'Enlèvement d’enfants', 'Déplacement forcé de familles', 'Meurtre d’un journaliste',
];
const EN_EVENTS = [
  'Summary executions of civilians', 'Massacre of villagers', 'Arbitrary arrests of protesters', 'Enforced disappearances of young men',
  'Torture in a detention centre', 'Sexual violence against women', 'Looting and burning of homes', 'Shelling of a market',
  'Attack on a hospital', 'Abduction of children', 'Forced displacement of families', 'Killing of a journalist',
];
const FR_DETAILS = [
  'Des témoins rapportent que des hommes armés sont arrivés à l’aube.', 'Les corps ont été retrouvés près de la rivière.',
  'Plusieurs victimes ont été blessées par balles.', 'Les autorités locales n’ont pas ouvert d’enquête.',
  'Les habitants ont fui vers les collines voisines.', 'Des militaires en uniforme ont été vus sur les lieux.',
];
const EN_DETAILS = [
  'Witnesses report that armed men arrived at dawn.', 'The bodies were found near the river.',
  'Several victims were wounded by gunfire.', 'Local authorities opened no investigation.',
  'Residents fled to the nearby hills.', 'Soldiers in uniform were seen at the scene.',
];

function incidentRow(codes: string[]) {
  const french = random() < 0.5;
  const [name, area, country, lat, lon] = pick(PLACES);
  const eventIndex = Math.floor(random() * EN_EVENTS.length);
  const title = `${(french ? FR_EVENTS : EN_EVENTS)[eventIndex]} ${french ? 'à' : 'in'} ${name}`;
  const details = french ? FR_DETAILS : EN_DETAILS;
  const summary = `${pick(details)} ${pick(details)} ${pick(details)}`;
  const day = new Date(Date.UTC(2015, 0, 1) + Math.floor(random() * 3650) * 86_400_000).toISOString().slice(0, 10);
  const located = random() < 0.85;
  return {
    title,
    summary,
    occurredFrom: day,
    name,
    area,
    country,
    lat: located ? lat + (random() - 0.5) * 0.4 : null,
    lon: located ? lon + (random() - 0.5) * 0.4 : null,
    categories: `{${[pick(codes), ...(random() < 0.4 ? [pick(codes)] : [])].join(',')}}`,
    killed: random() < 0.3 ? null : Math.floor(random() * 40),
  };
}

async function seed(pool: pg.Pool, caseId: string, userId: string) {
  const codes = violationCodes();
  const batch = 5000;
  for (let done = 0; done < INCIDENTS; done += batch) {
    const rows = Array.from({ length: Math.min(batch, INCIDENTS - done) }, () => incidentRow(codes));
    const column = <K extends keyof ReturnType<typeof incidentRow>>(key: K) => rows.map((row) => row[key]);
    await pool.query(
      `INSERT INTO incidents (case_id, title, summary, occurred_from, location_name, location_admin_area, location_country,
         location_lat, location_lon, categories, killed, created_by, created_at)
       SELECT $1, t, s, d::date, n, a, c, lat, lon, cats::text[], k, $2, now() - (random() * interval '900 days')
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::float8[], $10::float8[], $11::text[], $12::int[])
         AS u(t, s, d, n, a, c, lat, lon, cats, k)`,
      [caseId, userId, column('title'), column('summary'), column('occurredFrom'), column('name'), column('area'), column('country'),
        column('lat'), column('lon'), column('categories'), column('killed')],
    );
  }
  await pool.query('ANALYZE incidents');
}

// The repository's statements, written out, for the direct baseline.
const COLUMNS = `id, case_id, title, summary, occurred_from, occurred_to, date_precision, occurred_until, location_name,
  location_admin_area, location_country, location_lat, location_lon, location_precision_m, categories, killed, injured,
  missing, detained, alleged_perpetrators, status, created_by, retracted_at, retracted_by, retraction_reason, version,
  created_at, updated_at, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_at`;
const inBox = (p: number) => `location_lat BETWEEN $${p + 1}::float8 AND $${p + 3}::float8 AND location_lon BETWEEN $${p}::float8 AND $${p + 2}::float8`;
const ranked = (where: string) =>
  `SELECT * FROM (SELECT ${COLUMNS}, ts_rank(search_vector, custodia_search_query($2)) AS rank FROM incidents
   WHERE case_id = $1 AND retracted_at IS NULL AND search_vector @@ custodia_search_query($2) ${where}) m ORDER BY rank DESC, id DESC LIMIT 51`;
const recent = (where: string) =>
  `SELECT ${COLUMNS} FROM incidents WHERE case_id = $1 AND retracted_at IS NULL ${where} ORDER BY created_at DESC, id DESC LIMIT 51`;

interface Shape {
  name: string;
  queries: { http: string; sql: string; params: unknown[] }[];
}

function shapes(caseId: string): Shape[] {
  const words = ['massacre', 'executions sommaires', 'torture', 'journalist', 'hôpital', 'killed', 'disparitions', 'looting'];
  const boxes = [[28.5, -3.5, 30.5, 1.0], [29.0, 45.5, 38.5, 51.0], [21.0, 11.0, 26.0, 14.5], [-5, 13, 3, 16.5]] as const;
  const categories = violationCodes().slice(0, 12);
  const bbox = (b: readonly number[]) => b.join(',');
  return [
    { name: 'text', queries: words.map((q) => ({ http: `q=${encodeURIComponent(q)}`, sql: ranked(''), params: [caseId, q] })) },
    {
      name: 'text_date',
      queries: words.map((q, i) => {
        const from = `${2016 + (i % 8)}-01-01`;
        const to = `${2016 + (i % 8)}-12-31`;
        return { http: `q=${encodeURIComponent(q)}&from=${from}&to=${to}`, sql: ranked('AND occurred_until >= $3::date AND occurred_from <= $4::date'), params: [caseId, q, from, to] };
      }),
    },
    { name: 'category', queries: categories.map((c) => ({ http: `category=${c}`, sql: recent('AND categories && $2::text[]'), params: [caseId, [c]] })) },
    { name: 'bbox', queries: boxes.map((b) => ({ http: `bbox=${bbox(b)}`, sql: recent(`AND ${inBox(2)}`), params: [caseId, ...b] })) },
    {
      name: 'text_bbox',
      queries: words.map((q, i) => {
        const b = boxes[i % boxes.length]!;
        return { http: `q=${encodeURIComponent(q)}&bbox=${bbox(b)}`, sql: ranked(`AND ${inBox(3)}`), params: [caseId, q, ...b] };
      }),
    },
  ];
}

async function main() {
  const scratch = await scratchDatabase();
  report('search.database', scratch.where);
  // The service's own connection settings, so that the baseline plans the same statements alike.
  const pool = new pg.Pool({ connectionString: scratch.url, max: 4, onConnect: (client) => client.query(SESSION_SETTINGS) });
  const dataDir = await mkdtemp(join(tmpdir(), 'custodia-bench-search-'));
  const db = createDatabaseClient(scratch.url, 4);
  try {
    const { rows: [user] } = await pool.query(`INSERT INTO users (email, display_name, role, password_hash) VALUES ('lead@bench.example', 'Lead', 'member', 'x') RETURNING id`);
    const { rows: [kase] } = await pool.query(`INSERT INTO cases (reference, title, created_by) VALUES ('BENCH-1', 'Bench', $1) RETURNING id`, [user.id]);
    await pool.query(`INSERT INTO case_memberships (case_id, user_id, role) VALUES ($1, $2, 'observer')`, [kase.id, user.id]);
    const { token, hash } = newToken();
    await pool.query(`INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ($1, $2, now() + interval '1 day')`, [user.id, hash]);

    const seedStart = performance.now();
    await seed(pool, kase.id, user.id);
    report('search.seed.incidents', INCIDENTS);
    report('search.seed.time', (performance.now() - seedStart) / 1000, 's');

    const masterKey = generateMasterKey();
    const config = loadConfig({ CUSTODIA_DATA_DIR: dataDir, DATABASE_URL: scratch.url, LOG_LEVEL: 'warn', CUSTODIA_MASTER_KEY: masterKeyToBase64(masterKey) });
    const app = await buildApp({ config, db, keys: { masterRing: createMasterKeyring(masterKey), signing: generateSigningKey('bench') }, metrics: createMetrics(false) });
    await app.ready();
    const headers = { authorization: `Bearer ${token}` };

    for (const shape of shapes(kase.id)) {
      let i = 0;
      let matched = 0;
      const next = () => shape.queries[i++ % shape.queries.length]!;
      const api = async () => {
        const query = next();
        const response = await app.inject({ method: 'GET', url: `/api/v1/cases/${kase.id}/incidents?${query.http}`, headers });
        if (response.statusCode !== 200) throw new Error(`${shape.name}: ${response.statusCode} ${response.body}`);
        matched += (JSON.parse(response.body) as { items: unknown[] }).items.length;
      };
      const sql = () => {
        const query = next();
        return pool.query(query.sql, query.params);
      };
      await timeEach(20, api);
      await timeEach(20, sql);
      matched = 0;
      const apiTimes = await timeEach(RUNS, api);
      const sqlTimes = await timeEach(RUNS, sql);
      report(`search.${shape.name}.api.p50`, percentile(apiTimes, 50), 'ms');
      report(`search.${shape.name}.api.p95`, percentile(apiTimes, 95), 'ms');
      report(`search.${shape.name}.sql.p50`, percentile(sqlTimes, 50), 'ms');
      report(`search.${shape.name}.sql.p95`, percentile(sqlTimes, 95), 'ms');
      report(`search.${shape.name}.items_per_page`, matched / RUNS);
    }
    await app.close();
  } finally {
    await db.$disconnect();
    await pool.end();
    await scratch.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
