// A file name that is safe to write into a zip and to extract on any common system: one path
// segment, no control or invisible formatting characters (a right-to-left override can disguise
// "gpj.exe" as "exe.jpg"), nothing Windows refuses, no "%" (BagIt manifests percent-encode it,
// `sha256sum -c` would not decode it), bounded length, never empty. Letters of every script stay.

const MAX_BYTES = 120;
const MAX_EXTENSION_BYTES = 16;
const FALLBACK = 'file';

// Control, format (bidi overrides, zero-width), surrogate, private-use, unassigned, line and
// paragraph separators.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu;
const WINDOWS_FORBIDDEN = /[<>:"|?*%]/g;
const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The longest prefix of `s` made of whole graphemes that fits in `maxBytes` of UTF-8. */
function truncateGraphemes(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  let out = '';
  for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s)) {
    if (utf8Length(out + segment) > maxBytes) break;
    out += segment;
  }
  return out;
}

function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return [name, ''];
  const extension = name.slice(dot);
  if (utf8Length(extension) > MAX_EXTENSION_BYTES || !/^\.[\p{L}\p{N}_-]+$/u.test(extension)) return [name, ''];
  return [name.slice(0, dot), extension];
}

const trimEnds = (s: string): string => s.replace(/^[\s.]+/u, '').replace(/[\s.]+$/u, '');

export function safeFileName(original: string | null | undefined): string {
  // Only the last segment: a client-side path ("C:\Users\<name>\…") says who collected it.
  const lastSegment = (original ?? '').split(/[/\\]/).pop() ?? '';
  const cleaned = trimEnds(
    lastSegment.normalize('NFC').replace(/[\t\n\v\f\r]/g, ' ').replace(INVISIBLE, '').replace(WINDOWS_FORBIDDEN, '_').replace(/\s+/gu, ' '),
  );
  let [base, extension] = splitExtension(cleaned);
  base = trimEnds(base);
  if (base === '') base = FALLBACK;
  if (RESERVED.test(base.split('.')[0]!.trim())) base = `_${base}`;
  base = trimEnds(truncateGraphemes(base, MAX_BYTES - utf8Length(extension))) || FALLBACK;
  return base + extension;
}
