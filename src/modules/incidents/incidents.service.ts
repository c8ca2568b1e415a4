// Incidents: rules, permissions and one transaction per change.
import type { Database } from '../../database/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { Caller } from '../../http/caller.ts';
import { invalid, invalidFields } from '../../http/errors.ts';
import { staleVersion as staleVersionError } from '../../http/etag.ts';
import { decodeCursor, encodeCursor } from '../../http/pagination.ts';
import { authorize } from '../cases/access.ts';
import { changedFields, listRevisions, recordRevision } from '../revisions/revisions.ts';
import {
  findIncident,
  insertIncident,
  searchIncidents,
  updateIncident,
  type BoundingBox,
  type IncidentRow,
  type SearchCursor,
} from './incidents.repository.ts';
import type { CreateIncidentInput, IncidentSearchQuery, IncidentView, PatchIncidentInput } from './incidents.schemas.ts';
import { incidentErrors, isCalendarDay, type IncidentFields } from './incidents.validation.ts';
import { UUID } from '../../http/uuid.ts';

const day = (date: Date | null) => (date ? date.toISOString().slice(0, 10) : null);
const dateOf = (text: string) => new Date(`${text}T00:00:00Z`);

export function toIncidentView(row: IncidentRow): IncidentView {
  const hasLocation = [row.locationName, row.locationAdminArea, row.locationCountry, row.locationLat, row.locationPrecisionM].some((v) => v !== null);
  return {
    id: row.id,
    caseId: row.caseId,
    title: row.title,
    summary: row.summary,
    occurredFrom: day(row.occurredFrom)!,
    occurredTo: day(row.occurredTo),
    datePrecision: row.datePrecision as IncidentView['datePrecision'],
    location: hasLocation
      ? {
          name: row.locationName,
          adminArea: row.locationAdminArea,
          country: row.locationCountry,
          lat: row.locationLat,
          lon: row.locationLon,
          precisionMeters: row.locationPrecisionM,
        }
      : null,
    categories: row.categories,
    casualties: { killed: row.killed, injured: row.injured, missing: row.missing, detained: row.detained },
    allegedPerpetrators: row.allegedPerpetrators,
    status: row.status as IncidentView['status'],
    retraction: row.retractedAt ? { reason: row.retractionReason ?? '', at: row.retractedAt.toISOString(), by: row.retractedBy } : null,
    createdBy: row.createdBy,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

type Location = NonNullable<IncidentFields['location']>;

function locationOf(input: Partial<Record<keyof Location, unknown>> | null | undefined): Location | null {
  if (!input) return null;
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);
  const location: Location = {
    name: text(input.name),
    adminArea: text(input.adminArea),
    country: text(input.country)?.toUpperCase() ?? null,
    lat: (input.lat as number | null | undefined) ?? null,
    lon: (input.lon as number | null | undefined) ?? null,
    precisionMeters: (input.precisionMeters as number | null | undefined) ?? null,
  };
  return Object.values(location).every((v) => v === null) ? null : location;
}

function columnsOf(fields: IncidentFields & { summary: string; casualties: IncidentView['casualties']; allegedPerpetrators: string[]; status: string }) {
  const location = fields.location;
  return {
    title: fields.title.trim(),
    summary: fields.summary,
    occurredFrom: dateOf(fields.occurredFrom),
    occurredTo: fields.occurredTo === null ? null : dateOf(fields.occurredTo),
    datePrecision: fields.datePrecision,
    locationName: location?.name ?? null,
    locationAdminArea: location?.adminArea ?? null,
    locationCountry: location?.country ?? null,
    locationLat: location?.lat ?? null,
    locationLon: location?.lon ?? null,
    locationPrecisionM: location?.precisionMeters ?? null,
    categories: [...new Set(fields.categories)],
    killed: fields.casualties.killed,
    injured: fields.casualties.injured,
    missing: fields.casualties.missing,
    detained: fields.casualties.detained,
    allegedPerpetrators: fields.allegedPerpetrators.map((name) => name.trim()).filter(Boolean),
    status: fields.status,
  };
}

const NO_CASUALTIES = { killed: null, injured: null, missing: null, detained: null };

export function createIncidentsService(db: Database) {
  async function load(caller: Caller, id: string, action: 'incident.read' | 'incident.write') {
    const row = await findIncident(db, id);
    await authorize(db, caller, action, row?.caseId, { what: 'incident' });
    return row!;
  }

  async function mustRead(caller: Caller, id: string) {
    return load(caller, id, 'incident.read');
  }

  return {
    async create(caller: Caller, caseId: string, input: CreateIncidentInput): Promise<IncidentView> {
      await authorize(db, caller, 'incident.write', caseId, { what: 'case' });
      const fields = {
        title: input.title,
        summary: input.summary ?? '',
        occurredFrom: input.occurredFrom,
        occurredTo: input.occurredTo ?? null,
        datePrecision: input.datePrecision ?? 'day',
        location: locationOf(input.location),
        categories: input.categories ?? [],
        casualties: { ...NO_CASUALTIES, ...input.casualties },
        allegedPerpetrators: input.allegedPerpetrators ?? [],
        status: input.status ?? 'draft',
      };
      const errors = incidentErrors(fields);
      if (errors.length) throw invalidFields(errors);
      return db.$transaction(async (tx) => {
        const row = await insertIncident(tx, { ...columnsOf(fields), caseId, createdBy: caller.user.id });
        const view = toIncidentView(row);
        await recordRevision(tx, { entityType: 'incident', entityId: row.id, caseId, version: 1, snapshot: view, changes: [], actorId: caller.user.id });
        return view;
      });
    },

    async get(caller: Caller, id: string): Promise<IncidentView> {
      return toIncidentView(await mustRead(caller, id));
    },

    async update(caller: Caller, id: string, expected: number, patch: PatchIncidentInput): Promise<IncidentView> {
      const current = await load(caller, id, 'incident.write');
      const before = toIncidentView(current);
      const fields = {
        title: patch.title ?? before.title,
        summary: patch.summary ?? before.summary,
        occurredFrom: patch.occurredFrom ?? before.occurredFrom,
        occurredTo: patch.occurredTo !== undefined ? patch.occurredTo : before.occurredTo,
        datePrecision: patch.datePrecision ?? before.datePrecision,
        location: patch.location !== undefined ? locationOf(patch.location) : before.location,
        categories: patch.categories ?? before.categories,
        casualties: { ...before.casualties, ...patch.casualties },
        allegedPerpetrators: patch.allegedPerpetrators ?? before.allegedPerpetrators,
        status: patch.status ?? before.status,
      };
      const errors = incidentErrors(fields);
      if (errors.length) throw invalidFields(errors);
      return db.$transaction(async (tx) => {
        const row = await updateIncident(tx, id, expected, columnsOf(fields));
        if (!row) throw staleVersionError();
        const after = toIncidentView(row);
        await recordRevision(tx, {
          entityType: 'incident',
          entityId: id,
          caseId: row.caseId,
          version: row.version,
          snapshot: after,
          changes: changedFields(before, after),
          actorId: caller.user.id,
        });
        return after;
      });
    },

    async retract(caller: Caller, id: string, expected: number, reason: string): Promise<IncidentView> {
      const current = await load(caller, id, 'incident.write');
      if (current.retractedAt) throw invalid('body.reason', 'the incident is already retracted');
      const before = toIncidentView(current);
      return db.$transaction(async (tx) => {
        const data: Prisma.IncidentUncheckedUpdateManyInput = { retractedAt: new Date(), retractedBy: caller.user.id, retractionReason: reason };
        const row = await updateIncident(tx, id, expected, data);
        if (!row) throw staleVersionError();
        const after = toIncidentView(row);
        await recordRevision(tx, {
          entityType: 'incident',
          entityId: id,
          caseId: row.caseId,
          version: row.version,
          snapshot: after,
          changes: changedFields(before, after),
          actorId: caller.user.id,
        });
        return after;
      });
    },

    async revisions(caller: Caller, id: string, limit: number, cursor?: string) {
      const row = await findIncident(db, id);
      await authorize(db, caller, 'revisions.read', row?.caseId, { what: 'incident' });
      return listRevisions(db, 'incident', id, limit, cursor);
    },

    async search(caller: Caller, caseId: string, query: IncidentSearchQuery) {
      await authorize(db, caller, 'incident.read', caseId, { what: 'case' });
      const limit = query.limit ?? 50;
      const q = query.q?.trim() ? query.q.trim() : undefined;
      const filter = {
        caseId,
        includeRetracted: query.includeRetracted === true,
        ...(q !== undefined ? { q } : {}),
        ...parseFilters(query),
      };
      const rows = await searchIncidents(db, filter, limit, parseCursor(query.cursor, q !== undefined));
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      let nextCursor: string | null = null;
      if (rows.length > limit && last) nextCursor = encodeCursor(q !== undefined ? [last.rank ?? 0, last.id] : [last.cursorAt, last.id]);
      return { items: items.map(toIncidentView), nextCursor };
    },
  };
}

const MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/;

function parseCursor(cursor: string | undefined, ranked: boolean): SearchCursor | null {
  const key = decodeCursor(cursor, ranked ? ['number', 'string'] : ['string', 'string']);
  if (!key) return null;
  const [first, id] = key as [number | string, string];
  const wellFormed = UUID.test(id) && (ranked ? Number.isFinite(first) : MICROS.test(first as string));
  if (!wellFormed) throw invalid('querystring.cursor', 'is not a cursor this list gave out');
  return ranked ? { rank: first as number, id } : { at: first as string, id };
}

function parseFilters(query: IncidentSearchQuery) {
  const errors: { path: string; message: string }[] = [];
  for (const key of ['from', 'to'] as const) {
    const value = query[key];
    if (value !== undefined && !isCalendarDay(value)) errors.push({ path: `querystring.${key}`, message: 'must be a calendar date YYYY-MM-DD' });
  }
  if (query.from && query.to && errors.length === 0 && query.from > query.to) {
    errors.push({ path: 'querystring.to', message: 'must not be before from' });
  }
  const country = query.country?.toUpperCase();
  if (country !== undefined && !/^[A-Z]{2}$/.test(country)) errors.push({ path: 'querystring.country', message: 'must be an ISO 3166-1 alpha-2 code' });
  let bbox: BoundingBox | undefined;
  if (query.bbox !== undefined) {
    const parts = query.bbox.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)));
    const [minLon, minLat, maxLon, maxLat] = parts as [number, number, number, number];
    const valid =
      parts.length === 4 &&
      parts.every(Number.isFinite) &&
      [minLon, maxLon].every((lon) => lon >= -180 && lon <= 180) &&
      [minLat, maxLat].every((lat) => lat >= -90 && lat <= 90) &&
      minLat <= maxLat;
    if (valid) bbox = { minLon, minLat, maxLon, maxLat };
    else errors.push({ path: 'querystring.bbox', message: 'must be minLon,minLat,maxLon,maxLat in degrees (lon -180..180, lat -90..90, minLat ≤ maxLat)' });
  }
  if (errors.length) throw invalidFields(errors);
  return {
    ...(query.from !== undefined ? { from: query.from } : {}),
    ...(query.to !== undefined ? { to: query.to } : {}),
    ...(query.category?.length ? { categories: query.category } : {}),
    ...(country !== undefined ? { country } : {}),
    ...(query.status?.length ? { statuses: query.status as string[] } : {}),
    ...(bbox ? { bbox } : {}),
  };
}
