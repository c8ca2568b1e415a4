// The incident as the contract describes it, and the shapes of what clients send.
import { Type, type Static } from 'typebox';


export const DatePrecision = Type.Union([Type.Literal('day'), Type.Literal('month'), Type.Literal('year')]);
export const IncidentStatus = Type.Union([
  Type.Literal('draft'),
  Type.Literal('under_review'),
  Type.Literal('corroborated'),
  Type.Literal('disputed'),
  Type.Literal('closed'),
]);

const Nullable = <T extends import('typebox').TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Count = Nullable(Type.Integer({ minimum: 0, maximum: 100_000_000 }));
const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD; with month precision the day is 01, with year precision 01-01.' });

export const Location = Type.Object(
  {
    name: Nullable(Type.String({ maxLength: 300 })),
    adminArea: Nullable(Type.String({ maxLength: 300 })),
    country: Nullable(Type.String({ description: 'ISO 3166-1 alpha-2, upper case' })),
    lat: Nullable(Type.Number({ minimum: -90, maximum: 90 })),
    lon: Nullable(Type.Number({ minimum: -180, maximum: 180 })),
    precisionMeters: Nullable(Type.Integer({ minimum: 0, maximum: 20_000_000 })),
  },
  { additionalProperties: false },
);

const LocationInput = Type.Object(
  {
    name: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
    adminArea: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
    country: Type.Optional(Nullable(Type.String({ maxLength: 2 }))),
    lat: Type.Optional(Nullable(Type.Number())),
    lon: Type.Optional(Nullable(Type.Number())),
    precisionMeters: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 20_000_000 }))),
  },
  { additionalProperties: false },
);

export const Casualties = Type.Object(
  { killed: Count, injured: Count, missing: Count, detained: Count },
  { additionalProperties: false, description: 'Each a count, or null when unknown (unknown is not zero).' },
);
const CasualtiesInput = Type.Object(
  {
    killed: Type.Optional(Count),
    injured: Type.Optional(Count),
    missing: Type.Optional(Count),
    detained: Type.Optional(Count),
  },
  { additionalProperties: false },
);

export const Retraction = Nullable(
  Type.Object({ reason: Type.String(), at: Type.String({ format: 'date-time' }), by: Nullable(Type.String({ format: 'uuid' })) }),
);

export const Incident = Type.Object({
  id: Type.String({ format: 'uuid' }),
  caseId: Type.String({ format: 'uuid' }),
  title: Type.String(),
  summary: Type.String(),
  occurredFrom: Type.String({ format: 'date' }),
  occurredTo: Nullable(Type.String({ format: 'date' })),
  datePrecision: DatePrecision,
  location: Nullable(Location),
  categories: Type.Array(Type.String()),
  casualties: Casualties,
  allegedPerpetrators: Type.Array(Type.String()),
  status: IncidentStatus,
  retraction: Retraction,
  createdBy: Type.String({ format: 'uuid' }),
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type IncidentView = Static<typeof Incident>;

const fields = {
  title: Type.String({ minLength: 1, maxLength: 300 }),
  summary: Type.String({ maxLength: 20_000 }),
  occurredFrom: Day,
  occurredTo: Nullable(Day),
  datePrecision: DatePrecision,
  location: Nullable(LocationInput),
  categories: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 }),
  casualties: CasualtiesInput,
  allegedPerpetrators: Type.Array(Type.String({ minLength: 1, maxLength: 300 }), { maxItems: 100 }),
  status: IncidentStatus,
};

export const CreateIncident = Type.Object(
  {
    title: fields.title,
    summary: Type.Optional(fields.summary),
    occurredFrom: fields.occurredFrom,
    occurredTo: Type.Optional(fields.occurredTo),
    datePrecision: Type.Optional(fields.datePrecision),
    location: Type.Optional(fields.location),
    categories: Type.Optional(fields.categories),
    casualties: Type.Optional(fields.casualties),
    allegedPerpetrators: Type.Optional(fields.allegedPerpetrators),
    status: Type.Optional(fields.status),
  },
  { additionalProperties: false },
);
export type CreateIncidentInput = Static<typeof CreateIncident>;

export const PatchIncident = Type.Object(
  {
    title: Type.Optional(fields.title),
    summary: Type.Optional(fields.summary),
    occurredFrom: Type.Optional(fields.occurredFrom),
    occurredTo: Type.Optional(fields.occurredTo),
    datePrecision: Type.Optional(fields.datePrecision),
    location: Type.Optional(fields.location),
    categories: Type.Optional(fields.categories),
    casualties: Type.Optional(fields.casualties),
    allegedPerpetrators: Type.Optional(fields.allegedPerpetrators),
    status: Type.Optional(fields.status),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: '`location` is replaced as a whole; `casualties` keys given replace those counts, others stay.',
  },
);
export type PatchIncidentInput = Static<typeof PatchIncident>;

export const RetractBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

const OneOrMany = <T extends import('typebox').TSchema>(item: T) => Type.Array(item, { maxItems: 50, description: 'repeat the parameter for several values (any of them matches)' });

export const IncidentSearch = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 500 })),
    from: Type.Optional(Type.String({ format: 'date' })),
    to: Type.Optional(Type.String({ format: 'date' })),
    category: Type.Optional(OneOrMany(Type.String({ maxLength: 100 }))),
    country: Type.Optional(Type.String({ maxLength: 2 })),
    bbox: Type.Optional(Type.String({ maxLength: 200, description: 'minLon,minLat,maxLon,maxLat (minLon > maxLon crosses the antimeridian)' })),
    status: Type.Optional(OneOrMany(IncidentStatus)),
    includeRetracted: Type.Optional(Type.Boolean({ default: false })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type IncidentSearchQuery = Static<typeof IncidentSearch>;
