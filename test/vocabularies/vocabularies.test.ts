import { readFileSync } from 'node:fs';
import t from 'tap';
import { ALL_ROLE_NAMES, createTestContext, userFor } from '../helpers/app.ts';
import {
  VOCABULARY_NAMES,
  isVocabularyCode,
  parseVocabulary,
  vocabulary,
  vocabularyCodes,
} from '../../src/modules/vocabularies/vocabularies.ts';

const CUSTODY_ACTIONS: Record<string, boolean> = {
  collected: false,
  accessed: false,
  reviewed: false,
  metadata_changed: false,
  retracted: false,
  exported: false,
  transferred: true,
  analysed: true,
  copied: true,
  sealed: true,
  note: true,
};

const fileText = (name: string) => readFileSync(new URL(`../../src/modules/vocabularies/data/${name}.json`, import.meta.url), 'utf8');

t.test('the data files are valid', async (t) => {
  for (const name of VOCABULARY_NAMES) {
    const v = parseVocabulary(name, fileText(name));
    t.equal(v.name, name);
    t.match(v.version, /^\d{4}-\d{2}-\d{2}\.\d+$/);
    const codes = v.items.map((item) => item.code);
    t.equal(new Set(codes).size, codes.length, `${name}: codes unique`);
    for (const item of v.items) {
      t.ok(item.label.en.trim() && item.label.fr.trim(), `${name}/${item.code}: en and fr labels`);
      t.match(item.code, /^[a-z][a-z0-9_]*$/);
    }
    const frenchDiffers = v.items.filter((item) => item.label.fr !== item.label.en).length;
    t.ok(frenchDiffers >= v.items.length / 2, `${name}: labels are translated`);
  }
  t.ok(vocabulary('violations').items.length >= 20, 'at least 20 violation types');
  for (const code of ['killing', 'extrajudicial_execution', 'enforced_disappearance', 'torture', 'sexual_violence', 'rape', 'arbitrary_detention', 'attack_on_protected_objects', 'child_soldiers', 'persecution']) {
    t.ok(isVocabularyCode('violations', code), `violations has ${code}`);
  }
  const actions = vocabulary('custody-actions').items;
  t.same(Object.fromEntries(actions.map((item) => [item.code, item.manual])), CUSTODY_ACTIONS, 'the eleven custody actions with their manual flags');
  t.same(vocabulary('risk-levels').items.map((item) => item.code), ['low', 'medium', 'high', 'extreme']);
  for (const code of ['direct_capture', 'received_from_source', 'open_source_download', 'device_extraction', 'seized', 'provided_by_witness']) {
    t.ok(isVocabularyCode('acquisition-methods', code), `acquisition-methods has ${code}`);
  }
  for (const code of ['witness', 'victim', 'investigator', 'open_source', 'media', 'ngo', 'government', 'medical', 'forensic', 'other']) {
    t.ok(vocabularyCodes('source-kinds').has(code), `source-kinds has ${code}`);
  }
  t.notOk(isVocabularyCode('risk-levels', 'catastrophic'));
  t.notOk(isVocabularyCode('violations', 'Torture'), 'codes are case-sensitive');
});

t.test('a broken file is refused, naming the problem', async (t) => {
  const good = JSON.parse(fileText('risk-levels'));
  const variants: [string, unknown, RegExp][] = [
    ['duplicate code', { ...good, items: [...good.items, good.items[0]] }, /appears twice/],
    ['missing French label', { ...good, items: [{ code: 'low', label: { en: 'Low' } }] }, /vocabulary risk-levels/],
    ['wrong name', { ...good, name: 'violations' }, /names itself/],
    ['no version', { name: 'risk-levels', items: good.items }, /vocabulary risk-levels/],
    ['manual outside custody-actions', { ...good, items: [{ ...good.items[0], manual: true }] }, /must not have/],
    ['bad code', { ...good, items: [{ ...good.items[0], code: 'Low Risk' }] }, /vocabulary risk-levels/],
  ];
  for (const [name, data, error] of variants) {
    t.throws(() => parseVocabulary('risk-levels', JSON.stringify(data)), error, name);
  }
  const actions = JSON.parse(fileText('custody-actions'));
  delete actions.items[0].manual;
  t.throws(() => parseVocabulary('custody-actions', JSON.stringify(actions)), /lacks "manual"/);
});

t.test('GET /vocabularies/{name}', async (t) => {
  const ctx = await createTestContext(t);
  const c = await ctx.createCase();
  for (const role of ALL_ROLE_NAMES) {
    const response = await ctx.json(userFor(c, role), 'GET', '/api/v1/vocabularies/violations');
    t.equal(response.status, role === 'anonymous' ? 401 : 200, `as ${role}`);
  }
  for (const name of VOCABULARY_NAMES) {
    const response = await ctx.json(c.users.observer, 'GET', `/api/v1/vocabularies/${name}`);
    t.equal(response.status, 200);
    t.same(response.body, JSON.parse(fileText(name)), `${name} served as stored`);
  }
  const actions = await ctx.json(c.users.observer, 'GET', '/api/v1/vocabularies/custody-actions');
  t.equal(actions.body.items.filter((item: { manual: boolean }) => item.manual).length, 5);
  const unknown = await ctx.json(c.users.observer, 'GET', '/api/v1/vocabularies/colours');
  t.equal(unknown.status, 404);
  t.equal(unknown.body.code, 'not_found');
  const long = await ctx.json(c.users.observer, 'GET', `/api/v1/vocabularies/${'x'.repeat(500)}`);
  t.ok(long.status >= 400 && long.status < 500, `a huge name is a 4xx (${long.status})`);
  t.equal((await ctx.json(c.users.observer, 'GET', '/api/v1/vocabularies/__proto__')).status, 404);
  t.equal((await ctx.json(c.users.observer, 'GET', '/api/v1/vocabularies/..%2Fpackage')).status, 404);
});
