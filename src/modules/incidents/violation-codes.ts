// The codes an incident's `categories` may hold: the `violations` vocabulary.
import { isVocabularyCode, vocabulary } from '../vocabularies/vocabularies.ts';

export function isViolationCode(code: string): boolean {
  return isVocabularyCode('violations', code);
}

export function violationCodes(): string[] {
  return vocabulary('violations').items.map((item) => item.code);
}
