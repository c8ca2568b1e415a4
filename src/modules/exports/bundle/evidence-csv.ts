// data/evidence.csv: one row per evidence item with the metadata courts' e-Court systems ask
// for. RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, quote,
// CR or LF, quotes doubled; UTF-8 without a byte-order mark.

export type EvidenceCsvRow = {
  identifier: string;
  title: string;
  /** When the item was collected (or captured, when known): an RFC 3339 timestamp or date. */
  date: string | null;
  /** Media type sniffed from the bytes. */
  type: string | null;
  source: string | null;
  acquisitionMethod: string | null;
  collector: string | null;
  sha256: string;
  sizeBytes: number;
  custodySummary: string | null;
  reviewStatus: string | null;
};

export const EVIDENCE_CSV_COLUMNS: readonly [keyof EvidenceCsvRow, string][] = [
  ['identifier', 'Identifier'],
  ['title', 'Title'],
  ['date', 'Date'],
  ['type', 'Type'],
  ['source', 'Source'],
  ['acquisitionMethod', 'Acquisition method'],
  ['collector', 'Collector'],
  ['sha256', 'SHA-256'],
  ['sizeBytes', 'Size (bytes)'],
  ['custodySummary', 'Custody summary'],
  ['reviewStatus', 'Review status'],
];

// A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); an
// apostrophe in front makes it text. The exact values are in data/records/evidence.json.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function evidenceCsv(rows: readonly EvidenceCsvRow[]): string {
  const lines = [EVIDENCE_CSV_COLUMNS.map(([, header]) => csvField(header)).join(',')];
  for (const row of rows) lines.push(EVIDENCE_CSV_COLUMNS.map(([key]) => csvField(row[key])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
