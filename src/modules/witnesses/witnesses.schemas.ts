// The pseudonymous witness (never the identity) and the identity, which has routes of its own.
import { Type, type Static } from 'typebox';

const Nullable = <T extends import('typebox').TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const RiskLevel = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('extreme')]);

export const WitnessConsent = Type.Object({
  interview: Type.Boolean(),
  useInProceedings: Type.Boolean(),
  shareWithAccountabilityBodies: Type.Boolean(),
  identityDisclosure: Type.Boolean(),
  contactAllowed: Type.Boolean(),
  notes: Type.String(),
});

const ConsentInput = Type.Object(
  {
    interview: Type.Optional(Type.Boolean()),
    useInProceedings: Type.Optional(Type.Boolean()),
    shareWithAccountabilityBodies: Type.Optional(Type.Boolean()),
    identityDisclosure: Type.Optional(Type.Boolean()),
    contactAllowed: Type.Optional(Type.Boolean()),
    notes: Type.Optional(Type.String({ maxLength: 5000 })),
  },
  { additionalProperties: false, description: 'Booleans default to false; in a PATCH, keys given replace those values and others stay.' },
);

export const Retraction = Nullable(
  Type.Object({ reason: Type.String(), at: Type.String({ format: 'date-time' }), by: Nullable(Type.String({ format: 'uuid' })) }),
);

export const Witness = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    caseId: Type.String({ format: 'uuid' }),
    code: Type.String({ description: 'W-0001 upward, per case, gapless, never reused' }),
    riskLevel: RiskLevel,
    consent: WitnessConsent,
    registeredBy: Type.String({ format: 'uuid' }),
    hasIdentity: Type.Boolean(),
    identityErasedAt: Nullable(Type.String({ format: 'date-time' })),
    retraction: Retraction,
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type WitnessView = Static<typeof Witness>;

export const CreateWitness = Type.Object(
  { riskLevel: Type.Optional(RiskLevel), consent: Type.Optional(ConsentInput) },
  { additionalProperties: false },
);
export type CreateWitnessInput = Static<typeof CreateWitness>;

export const PatchWitness = Type.Object(
  { riskLevel: Type.Optional(RiskLevel), consent: Type.Optional(ConsentInput) },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchWitnessInput = Static<typeof PatchWitness>;

export const Identity = Type.Object(
  {
    fullName: Nullable(Type.String({ maxLength: 300 })),
    contact: Nullable(Type.String({ maxLength: 2000 })),
    dateOfBirth: Nullable(Type.String({ maxLength: 50, description: 'as known: a full date, a year, an estimate' })),
    notes: Nullable(Type.String({ maxLength: 10_000 })),
  },
  { additionalProperties: false },
);
export type IdentityView = Static<typeof Identity>;

export const PutIdentity = Type.Object(
  {
    fullName: Type.Optional(Identity.properties.fullName),
    contact: Type.Optional(Identity.properties.contact),
    dateOfBirth: Type.Optional(Identity.properties.dateOfBirth),
    notes: Type.Optional(Identity.properties.notes),
  },
  { additionalProperties: false, description: 'Replaces the whole identity; a missing field is null.' },
);
export type PutIdentityInput = Static<typeof PutIdentity>;

export const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });
