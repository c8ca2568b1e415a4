// The evidence record as the contract shapes it, and the inputs that create and edit one.
import { Type, type Static } from 'typebox';

const Uuid = Type.String({ format: 'uuid' });
const Code = Type.String({ minLength: 1, maxLength: 100 });

export const EvidenceSourceInput = Type.Object(
  {
    kind: Code,
    name: Type.Optional(Type.String({ maxLength: 500 })),
    url: Type.Optional(Type.String({ format: 'uri', maxLength: 2000 })),
  },
  { additionalProperties: false },
);

/** The evidence fields a client sends with the bytes (multipart `metadata`, tus `complete`). */
export const EvidenceMetadataInput = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 500 }),
    description: Type.Optional(Type.String({ maxLength: 20000 })),
    incidentIds: Type.Optional(Type.Array(Uuid, { maxItems: 200, uniqueItems: true })),
    source: EvidenceSourceInput,
    acquisition: Code,
    collectedAt: Type.String({ format: 'date-time' }),
    collectedBy: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type EvidenceMetadataInput = Static<typeof EvidenceMetadataInput>;

export const EvidencePatch = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    description: Type.Optional(Type.String({ maxLength: 20000 })),
    incidentIds: Type.Optional(Type.Array(Uuid, { maxItems: 200, uniqueItems: true })),
    source: Type.Optional(EvidenceSourceInput),
    acquisition: Type.Optional(Code),
    collectedAt: Type.Optional(Type.String({ format: 'date-time' })),
    collectedBy: Type.Optional(Uuid),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type EvidencePatch = Static<typeof EvidencePatch>;

export const RetractBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

export const REVIEW_STATUSES = ['unreviewed', 'verified', 'disputed', 'rejected', 'needs_information', 'integrity_failed'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];
const ReviewStatusSchema = Type.Union([
  Type.Literal('unreviewed'),
  Type.Literal('verified'),
  Type.Literal('disputed'),
  Type.Literal('rejected'),
  Type.Literal('needs_information'),
  Type.Literal('integrity_failed'),
]);

export const Evidence = Type.Object({
  id: Uuid,
  caseId: Uuid,
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  sizeBytes: Type.Integer({ minimum: 0 }),
  mediaType: Type.String(),
  originalFilename: Type.String(),
  title: Type.String(),
  description: Type.String(),
  incidentIds: Type.Array(Uuid),
  source: Type.Object({ kind: Type.String(), name: Type.String(), url: Type.Optional(Type.String()) }),
  acquisition: Type.String(),
  collectedAt: Type.String({ format: 'date-time' }),
  collectedBy: Uuid,
  capturedAt: Type.Optional(Type.String({ format: 'date-time' })),
  captureLocation: Type.Optional(Type.Object({ lat: Type.Number(), lon: Type.Number() })),
  captureMetadata: Type.Record(Type.String(), Type.Unknown()),
  duplicateOf: Type.Array(Uuid),
  reviewStatus: ReviewStatusSchema,
  retraction: Type.Union([Type.Null(), Type.Object({ reason: Type.String(), at: Type.String({ format: 'date-time' }), by: Type.Union([Uuid, Type.Null()]) })]),
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
});
export type EvidenceView = Static<typeof Evidence>;

export const EvidenceListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 1000 })),
    incidentId: Type.Optional(Uuid),
    reviewStatus: Type.Optional(ReviewStatusSchema),
    mediaType: Type.Optional(Type.String({ minLength: 3, maxLength: 200, pattern: '^[a-z0-9!#$&^_.+-]+/([a-z0-9!#$&^_.+-]+|\\*)$' })),
  },
  { additionalProperties: false },
);
export type EvidenceListQuery = Static<typeof EvidenceListQuery>;
