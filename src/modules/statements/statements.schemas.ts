// A witness statement, as the contract describes it.
import { Type, type Static } from 'typebox';

const Nullable = <T extends import('typebox').TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const StatementConsent = Type.Object({
  useInProceedings: Type.Boolean(),
  shareWithAccountabilityBodies: Type.Boolean(),
  restrictions: Nullable(Type.String()),
});

const ConsentInput = Type.Object(
  {
    useInProceedings: Type.Optional(Type.Boolean()),
    shareWithAccountabilityBodies: Type.Optional(Type.Boolean()),
    restrictions: Type.Optional(Nullable(Type.String({ maxLength: 5000 }))),
  },
  { additionalProperties: false, description: 'Booleans default to false; in a PATCH, keys given replace those values and others stay.' },
);

export const Statement = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    caseId: Type.String({ format: 'uuid' }),
    witnessId: Type.String({ format: 'uuid' }),
    incidentIds: Type.Array(Type.String({ format: 'uuid' })),
    takenAt: Type.String({ format: 'date-time' }),
    place: Type.String(),
    language: Type.String({ description: 'BCP 47 language tag' }),
    interpreter: Nullable(Type.String()),
    interviewerId: Type.String({ format: 'uuid' }),
    narrative: Type.String(),
    consent: StatementConsent,
    retraction: Nullable(Type.Object({ reason: Type.String(), at: Type.String({ format: 'date-time' }), by: Nullable(Type.String({ format: 'uuid' })) })),
    createdBy: Type.String({ format: 'uuid' }),
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type StatementView = Static<typeof Statement>;

const fields = {
  witnessId: Type.String({ format: 'uuid' }),
  incidentIds: Type.Array(Type.String({ format: 'uuid' }), { maxItems: 200, uniqueItems: true }),
  takenAt: Type.String({ format: 'date-time' }),
  place: Type.String({ maxLength: 300 }),
  language: Type.String({ minLength: 2, maxLength: 35, description: 'BCP 47, e.g. "fr", "sw-CD", "ar-Latn"' }),
  interpreter: Nullable(Type.String({ maxLength: 300 })),
  interviewerId: Type.String({ format: 'uuid', description: 'a member of the case; the caller when omitted' }),
  narrative: Type.String({ maxLength: 200_000 }),
  consent: ConsentInput,
};

export const CreateStatement = Type.Object(
  {
    witnessId: fields.witnessId,
    incidentIds: Type.Optional(fields.incidentIds),
    takenAt: fields.takenAt,
    place: Type.Optional(fields.place),
    language: fields.language,
    interpreter: Type.Optional(fields.interpreter),
    interviewerId: Type.Optional(fields.interviewerId),
    narrative: fields.narrative,
    consent: Type.Optional(fields.consent),
  },
  { additionalProperties: false },
);
export type CreateStatementInput = Static<typeof CreateStatement>;

export const PatchStatement = Type.Object(
  {
    witnessId: Type.Optional(fields.witnessId),
    incidentIds: Type.Optional(fields.incidentIds),
    takenAt: Type.Optional(fields.takenAt),
    place: Type.Optional(fields.place),
    language: Type.Optional(fields.language),
    interpreter: Type.Optional(fields.interpreter),
    interviewerId: Type.Optional(fields.interviewerId),
    narrative: Type.Optional(fields.narrative),
    consent: Type.Optional(fields.consent),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchStatementInput = Static<typeof PatchStatement>;

export const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
