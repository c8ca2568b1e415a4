// The rules an investigator expects of an incident, each failure naming its field.
import { isCountryCode } from '../../data/countries.ts';
import type { FieldError } from '../../http/errors.ts';
import { isViolationCode } from './violation-codes.ts';

export interface IncidentFields {
  title: string;
  occurredFrom: string;
  occurredTo: string | null;
  datePrecision: 'day' | 'month' | 'year';
  location: {
    name: string | null;
    adminArea: string | null;
    country: string | null;
    lat: number | null;
    lon: number | null;
    precisionMeters: number | null;
  } | null;
  categories: string[];
}

/** A real calendar day written YYYY-MM-DD. */
export function isCalendarDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

function checkDay(errors: FieldError[], path: string, value: string, precision: IncidentFields['datePrecision']) {
  if (!isCalendarDay(value)) {
    errors.push({ path, message: 'must be a calendar date YYYY-MM-DD' });
  } else if (precision === 'month' && !value.endsWith('-01')) {
    errors.push({ path, message: 'with datePrecision "month" must be the first day of the month (YYYY-MM-01)' });
  } else if (precision === 'year' && !value.endsWith('-01-01')) {
    errors.push({ path, message: 'with datePrecision "year" must be the first of January (YYYY-01-01)' });
  }
}

export function incidentErrors(fields: IncidentFields, prefix = 'body'): FieldError[] {
  const errors: FieldError[] = [];
  if (fields.title.trim() === '') errors.push({ path: `${prefix}.title`, message: 'must not be blank' });
  checkDay(errors, `${prefix}.occurredFrom`, fields.occurredFrom, fields.datePrecision);
  if (fields.occurredTo !== null) {
    checkDay(errors, `${prefix}.occurredTo`, fields.occurredTo, fields.datePrecision);
    if (errors.length === 0 && fields.occurredTo < fields.occurredFrom) {
      errors.push({ path: `${prefix}.occurredTo`, message: 'must not be before occurredFrom' });
    }
  }
  const location = fields.location;
  if (location) {
    if (location.country !== null && !isCountryCode(location.country)) {
      errors.push({ path: `${prefix}.location.country`, message: 'must be an ISO 3166-1 alpha-2 country code such as "CD" or "FR"' });
    }
    if ((location.lat === null) !== (location.lon === null)) {
      errors.push({ path: `${prefix}.location.${location.lat === null ? 'lat' : 'lon'}`, message: 'lat and lon go together: give both or neither' });
    }
    if (location.lat !== null && !(location.lat >= -90 && location.lat <= 90)) {
      errors.push({ path: `${prefix}.location.lat`, message: 'must be between -90 and 90' });
    }
    if (location.lon !== null && !(location.lon >= -180 && location.lon <= 180)) {
      errors.push({ path: `${prefix}.location.lon`, message: 'must be between -180 and 180' });
    }
  }
  fields.categories.forEach((code, i) => {
    if (!isViolationCode(code)) errors.push({ path: `${prefix}.categories.${i}`, message: `"${code.slice(0, 100)}" is not a code of the violations vocabulary` });
  });
  return errors;
}
