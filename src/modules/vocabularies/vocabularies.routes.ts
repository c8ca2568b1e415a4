import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../../http/errors.ts';
import { VOCABULARY_NAMES, VocabularySchema, isVocabularyName, loadVocabularies, vocabulary } from './vocabularies.ts';

const Params = Type.Object({ name: Type.String({ maxLength: 100 }) }, { additionalProperties: false });

export default async function vocabularyRoutes(instance: FastifyInstance) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  loadVocabularies();

  app.get(
    '/vocabularies/:name',
    {
      schema: {
        tags: ['vocabularies'],
        summary: `A controlled vocabulary: ${VOCABULARY_NAMES.join(', ')}.`,
        params: Params,
        response: { 200: VocabularySchema },
      },
    },
    async (request) => {
      if (!isVocabularyName(request.params.name)) throw notFound('vocabulary');
      return vocabulary(request.params.name);
    },
  );
}
