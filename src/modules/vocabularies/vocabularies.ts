// The controlled vocabularies (violation types, acquisition methods, custody actions, risk levels,
// source kinds): JSON files under data/, read and checked once, the first time one is needed.
// Other modules validate codes with `isVocabularyCode`.
import { readFileSync } from 'node:fs';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

export const VOCABULARY_NAMES = ['violations', 'acquisition-methods', 'custody-actions', 'risk-levels', 'source-kinds'] as const;
export type VocabularyName = (typeof VOCABULARY_NAMES)[number];

const Label = Type.String({ minLength: 1, maxLength: 200 });

export const VocabularyItemSchema = Type.Object(
  {
    code: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
    label: Type.Object({ en: Label, fr: Label }, { additionalProperties: false }),
    description: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
    manual: Type.Optional(Type.Boolean({ description: 'custody-actions only: whether people append it (true) or the service does (false).' })),
  },
  { additionalProperties: false },
);

export const VocabularySchema = Type.Object(
  {
    name: Type.String(),
    version: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}\\.\\d+$' }),
    items: Type.Array(VocabularyItemSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type Vocabulary = Static<typeof VocabularySchema>;

const loaded = new Map<VocabularyName, Vocabulary>();

export function isVocabularyName(name: string): name is VocabularyName {
  return (VOCABULARY_NAMES as readonly string[]).includes(name);
}

/** Parses and checks one vocabulary file; throws naming the file and the first problem. */
export function parseVocabulary(name: VocabularyName, text: string): Vocabulary {
  const data: unknown = JSON.parse(text);
  if (!Value.Check(VocabularySchema, data)) {
    const [first] = Value.Errors(VocabularySchema, data);
    throw new Error(`vocabulary ${name}: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`);
  }
  if (data.name !== name) throw new Error(`vocabulary ${name}: the file names itself "${data.name}"`);
  const codes = new Set<string>();
  for (const item of data.items) {
    if (codes.has(item.code)) throw new Error(`vocabulary ${name}: code "${item.code}" appears twice`);
    codes.add(item.code);
    if ((item.manual !== undefined) !== (name === 'custody-actions')) {
      throw new Error(`vocabulary ${name}: "${item.code}" ${name === 'custody-actions' ? 'lacks' : 'must not have'} "manual"`);
    }
  }
  return data;
}

export function vocabulary(name: VocabularyName): Vocabulary {
  let found = loaded.get(name);
  if (!found) {
    found = parseVocabulary(name, readFileSync(new URL(`./data/${name}.json`, import.meta.url), 'utf8'));
    loaded.set(name, found);
  }
  return found;
}

const codeSets = new Map<VocabularyName, ReadonlySet<string>>();

export function vocabularyCodes(name: VocabularyName): ReadonlySet<string> {
  let codes = codeSets.get(name);
  if (!codes) {
    codes = new Set(vocabulary(name).items.map((item) => item.code));
    codeSets.set(name, codes);
  }
  return codes;
}

export function isVocabularyCode(name: VocabularyName, code: string): boolean {
  return vocabularyCodes(name).has(code);
}

/** Reads and checks every vocabulary: called at boot so that a broken file stops the service early. */
export function loadVocabularies(): void {
  for (const name of VOCABULARY_NAMES) vocabulary(name);
}
