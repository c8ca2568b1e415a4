/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Accepted input is plain JSON data only: null, booleans, finite numbers, strings,
 * arrays and plain objects. Object properties whose value is `undefined` are omitted
 * (as JSON.stringify does). Everything else throws a CanonicalJsonError: non-finite
 * numbers, lone surrogates (I-JSON, RFC 7493), `undefined` as a value or array element,
 * bigint, functions, symbols, class instances (Date, Buffer, Map…) and cycles.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue | undefined };

export class CanonicalJsonError extends TypeError {
  override name = 'CanonicalJsonError';
}

// In a /u regex, paired surrogates form one code point, so \p{Cs} only matches lone ones.
const LONE_SURROGATE = /\p{Cs}/u;

function serializeString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError('string contains a lone surrogate');
  // JSON.stringify's escaping (ES2019 well-formed) is exactly RFC 8785 §3.2.2.2.
  return JSON.stringify(s);
}

function serializeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`number is not finite: ${n}`);
  // ECMAScript Number::toString, as RFC 8785 §3.2.2.3 requires; -0 becomes "0".
  return JSON.stringify(n);
}

function serialize(value: unknown, ancestors: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return serializeNumber(value);
    case 'string':
      return serializeString(value);
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`cannot canonicalize a value of type ${typeof value}`);
  }
  if (ancestors.has(value)) throw new CanonicalJsonError('cyclic structure');
  ancestors.add(value);
  let out: string;
  if (Array.isArray(value)) {
    const items: string[] = [];
    // An index loop, not map(): holes of sparse arrays must be seen (and refused as undefined).
    for (let i = 0; i < value.length; i++) items.push(serialize(value[i], ancestors));
    out = `[${items.join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalJsonError('only plain objects can be canonicalized');
    }
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
    const keys = Object.keys(record).sort();
    const members: string[] = [];
    for (const key of keys) {
      const v = record[key];
      if (v === undefined) continue;
      members.push(`${serializeString(key)}:${serialize(v, ancestors)}`);
    }
    out = `{${members.join(',')}}`;
  }
  ancestors.delete(value);
  return out;
}

/** The RFC 8785 canonical form of `value`, as a string (encode it as UTF-8). */
export function canonicalize(value: unknown): string {
  return serialize(value, new Set());
}
