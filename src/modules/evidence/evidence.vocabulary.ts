// Codes the evidence fields must come from: `acquisition` (acquisition-methods) and
// `source.kind` (source-kinds). Read from the vocabularies module's data files.
// TODO(vocabularies): switch to `isVocabularyCode` from src/modules/vocabularies once it exists;
// until its data files land, the provisional lists below are used.
import { readFile } from 'node:fs/promises';

type EvidenceVocabulary = 'acquisition-methods' | 'source-kinds';

const PROVISIONAL: Record<EvidenceVocabulary, string[]> = {
  'acquisition-methods': ['direct_capture', 'witness_submission', 'open_source', 'device_extraction', 'third_party', 'other'],
  'source-kinds': ['witness', 'investigator', 'open_source', 'organization', 'official', 'media', 'other'],
};

const cache = new Map<EvidenceVocabulary, Promise<Set<string>>>();

async function load(name: EvidenceVocabulary): Promise<Set<string>> {
  try {
    const text = await readFile(new URL(`../vocabularies/data/${name}.json`, import.meta.url), 'utf8');
    const parsed = JSON.parse(text) as { items?: { code?: unknown }[] };
    const codes = (parsed.items ?? []).map((item) => item.code).filter((code): code is string => typeof code === 'string');
    if (codes.length > 0) return new Set(codes);
  } catch {
    // not written yet: provisional list below
  }
  return new Set(PROVISIONAL[name]);
}

export function vocabularyCodes(name: EvidenceVocabulary): Promise<Set<string>> {
  let codes = cache.get(name);
  if (!codes) {
    codes = load(name);
    cache.set(name, codes);
  }
  return codes;
}

export async function isEvidenceVocabularyCode(name: EvidenceVocabulary, code: string): Promise<boolean> {
  return (await vocabularyCodes(name)).has(code);
}
