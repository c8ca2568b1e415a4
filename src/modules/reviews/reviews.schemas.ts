import { Type, type Static } from 'typebox';

const Decision = Type.Union([Type.Literal('verified'), Type.Literal('disputed'), Type.Literal('rejected'), Type.Literal('needs_information')]);
const CheckResult = Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('inconclusive')]);

export const ReviewBody = Type.Object(
  {
    decision: Decision,
    notes: Type.String({ maxLength: 20000 }),
    checks: Type.Array(
      Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 200 }), result: CheckResult, note: Type.Optional(Type.String({ maxLength: 2000 })) },
        { additionalProperties: false },
      ),
      { maxItems: 100 },
    ),
  },
  { additionalProperties: false },
);
export type ReviewBody = Static<typeof ReviewBody>;

export const Review = Type.Object({
  id: Type.String({ format: 'uuid' }),
  evidenceId: Type.String({ format: 'uuid' }),
  caseId: Type.String({ format: 'uuid' }),
  reviewerId: Type.String({ format: 'uuid' }),
  decision: Decision,
  notes: Type.String(),
  checks: Type.Array(Type.Object({ name: Type.String(), result: CheckResult, note: Type.Optional(Type.String()) })),
  integrity: Type.Object({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }), matches: Type.Boolean() }),
  createdAt: Type.String({ format: 'date-time' }),
});
export type ReviewView = Static<typeof Review>;
