// Incidents in PostgreSQL. Search is one SQL statement over the generated `search_vector`
// (French and English stems of the unaccented text, see the case_records migration).
import type { Db } from '../../database/client.ts';
import { Prisma, type Incident as IncidentRow } from '../../generated/prisma/client.ts';

export type { IncidentRow };

export type IncidentData = Omit<
  Prisma.IncidentUncheckedCreateInput,
  'id' | 'version' | 'createdAt' | 'updatedAt' | 'occurredUntil' | 'retractedAt' | 'retractedBy' | 'retractionReason'
>;

export function findIncident(db: Db, id: string) {
  return db.incident.findUnique({ where: { id } });
}

export function insertIncident(db: Db, data: IncidentData) {
  return db.incident.create({ data });
}

/** Applies `data` if the row is still at `version`; answers the new row, or null when it was not. */
export async function updateIncident(db: Db, id: string, version: number, data: Prisma.IncidentUncheckedUpdateManyInput) {
  const { count } = await db.incident.updateMany({
    where: { id, version },
    data: { ...data, version: { increment: 1 }, updatedAt: new Date() },
  });
  return count === 0 ? null : db.incident.findUniqueOrThrow({ where: { id } });
}

export interface BoundingBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

export interface IncidentFilter {
  caseId: string;
  q?: string;
  from?: string;
  to?: string;
  categories?: string[];
  country?: string;
  statuses?: string[];
  bbox?: BoundingBox;
  includeRetracted: boolean;
}

export type SearchCursor = { rank: number; id: string } | { at: string; id: string };
export type SearchRow = IncidentRow & { rank: number | null; cursorAt: string };

const COLUMNS = Prisma.sql`
  id, case_id AS "caseId", title, summary, occurred_from AS "occurredFrom", occurred_to AS "occurredTo",
  date_precision AS "datePrecision", occurred_until AS "occurredUntil", location_name AS "locationName",
  location_admin_area AS "locationAdminArea", location_country AS "locationCountry", location_lat AS "locationLat",
  location_lon AS "locationLon", location_precision_m AS "locationPrecisionM", categories, killed, injured, missing,
  detained, alleged_perpetrators AS "allegedPerpetrators", status, created_by AS "createdBy",
  retracted_at AS "retractedAt", retracted_by AS "retractedBy", retraction_reason AS "retractionReason", version,
  created_at AS "createdAt", updated_at AS "updatedAt",
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS "cursorAt"`;

// Two ranges rather than `point <@ box`: PostgreSQL estimates ranges from column statistics, so
// it chooses well between the location index (a small box) and the newest-first one (a large box).
function bboxCondition(box: BoundingBox): Prisma.Sql {
  const latitude = Prisma.sql`location_lat BETWEEN ${box.minLat}::float8 AND ${box.maxLat}::float8`;
  // A box whose west edge is east of its east edge crosses the antimeridian.
  const longitude =
    box.minLon <= box.maxLon
      ? Prisma.sql`location_lon BETWEEN ${box.minLon}::float8 AND ${box.maxLon}::float8`
      : Prisma.sql`(location_lon >= ${box.minLon}::float8 OR location_lon <= ${box.maxLon}::float8)`;
  return Prisma.sql`${latitude} AND ${longitude}`;
}

function conditionsOf(filter: IncidentFilter): Prisma.Sql[] {
  const where = [Prisma.sql`case_id = ${filter.caseId}::uuid`];
  if (!filter.includeRetracted) where.push(Prisma.sql`retracted_at IS NULL`);
  // Overlap: the incident's period [occurred_from, occurred_until] meets [from, to].
  if (filter.from !== undefined) where.push(Prisma.sql`occurred_until >= ${filter.from}::date`);
  if (filter.to !== undefined) where.push(Prisma.sql`occurred_from <= ${filter.to}::date`);
  if (filter.categories?.length) where.push(Prisma.sql`categories && ${filter.categories}::text[]`);
  if (filter.country !== undefined) where.push(Prisma.sql`location_country = ${filter.country}`);
  if (filter.statuses?.length) where.push(Prisma.sql`status = ANY(${filter.statuses}::text[])`);
  if (filter.bbox) where.push(bboxCondition(filter.bbox));
  if (filter.q !== undefined) where.push(Prisma.sql`search_vector @@ custodia_search_query(${filter.q})`);
  return where;
}

/**
 * One page of matches, `limit + 1` rows: ranked (rank, then id) when `q` is given, newest first
 * (created_at to the microsecond, then id) otherwise. Both keys are total orders, so a cursor
 * holding the last row's key gives every match exactly once.
 */
export function searchIncidents(db: Db, filter: IncidentFilter, limit: number, after: SearchCursor | null): Promise<SearchRow[]> {
  const where = Prisma.join(conditionsOf(filter), ' AND ');
  if (filter.q !== undefined) {
    const next = after && 'rank' in after ? Prisma.sql`WHERE (rank, id) < (${after.rank}::real, ${after.id}::uuid)` : Prisma.empty;
    return db.$queryRaw<SearchRow[]>`
      SELECT * FROM (
        SELECT ${COLUMNS}, ts_rank(search_vector, custodia_search_query(${filter.q})) AS rank
        FROM incidents WHERE ${where}
      ) matches ${next}
      ORDER BY rank DESC, id DESC
      LIMIT ${limit + 1}`;
  }
  const next =
    after && 'at' in after
      ? Prisma.sql`AND (created_at, id) < ((${after.at}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`
      : Prisma.empty;
  return db.$queryRaw<SearchRow[]>`
    SELECT ${COLUMNS}, NULL::real AS rank FROM incidents
    WHERE ${where} ${next}
    ORDER BY created_at DESC, id DESC
    LIMIT ${limit + 1}`;
}
