// What the bytes say about themselves: the media type sniffed from their first bytes (never the
// client's claim) and, for images, the capture metadata from EXIF/XMP/GPS.
import { fileTypeFromBuffer } from 'file-type';
import exifr from 'exifr';

export const OCTET_STREAM = 'application/octet-stream';
export const TEXT_PLAIN = 'text/plain';

/**
 * The media type of a file from its first bytes. Files with no binary signature are `text/plain`
 * when those first bytes are valid UTF-8 without control characters (other than tab, newlines,
 * form feed), otherwise `application/octet-stream`; an empty file is `application/octet-stream`.
 */
export async function sniffMediaType(head: Uint8Array): Promise<string> {
  if (head.byteLength === 0) return OCTET_STREAM;
  const detected = await fileTypeFromBuffer(head).catch(() => undefined);
  if (detected) return detected.mime;
  return looksLikeText(head) ? TEXT_PLAIN : OCTET_STREAM;
}

function looksLikeText(head: Uint8Array): boolean {
  try {
    // `stream: true` tolerates a character cut at the end of the sample.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return !/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text);
  } catch {
    return false;
  }
}

export interface CaptureInfo {
  capturedAt: Date | null;
  location: { lat: number; lon: number } | null;
  metadata: Record<string, string | number | boolean>;
}

const NO_CAPTURE: CaptureInfo = { capturedAt: null, location: null, metadata: {} };

/** The tags kept in `captureMetadata`: what says which device made the image, when and where. */
const KEPT_TAGS = [
  'Make', 'Model', 'Software', 'LensMake', 'LensModel', 'SerialNumber', 'BodySerialNumber',
  'DateTimeOriginal', 'CreateDate', 'ModifyDate', 'OffsetTimeOriginal',
  'ImageWidth', 'ImageHeight', 'ExifImageWidth', 'ExifImageHeight', 'Orientation',
  'ExposureTime', 'FNumber', 'ISO', 'FocalLength',
  'GPSLatitude', 'GPSLongitude', 'GPSAltitude', 'GPSDateStamp', 'GPSTimeStamp', 'GPSImgDirection',
  'latitude', 'longitude',
  'CreatorTool', 'DocumentID', 'OriginalDocumentID',
] as const;

function keepable(value: unknown): string | number | boolean | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.replace(/\u0000+$/, '').slice(0, 500);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value) && value.length <= 8 && value.every((v) => typeof v === 'number' && Number.isFinite(v))) return value.join(',');
  return null;
}

function validLocation(lat: unknown, lon: unknown): { lat: number; lon: number } | null {
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  if (lat < -90 || lat > 90 || lon < -180 || lon > 180) return null;
  return { lat, lon };
}

/**
 * EXIF/XMP/GPS of an image from its first bytes. A file whose metadata cannot be parsed simply
 * has none: malformed metadata never fails an intake.
 */
export async function extractCaptureInfo(mediaType: string, head: Uint8Array): Promise<CaptureInfo> {
  if (!mediaType.startsWith('image/') || head.byteLength === 0) return NO_CAPTURE;
  let tags: Record<string, unknown> | undefined;
  try {
    tags = (await exifr.parse(Buffer.from(head.buffer, head.byteOffset, head.byteLength), {
      tiff: true,
      exif: true,
      gps: true,
      xmp: true,
      ifd1: false,
      iptc: false,
      icc: false,
      jfif: false,
      makerNote: false,
      userComment: false,
      mergeOutput: true,
      reviveValues: true,
    })) as Record<string, unknown> | undefined;
  } catch {
    return NO_CAPTURE;
  }
  if (!tags || typeof tags !== 'object') return NO_CAPTURE;
  const metadata: Record<string, string | number | boolean> = {};
  for (const tag of KEPT_TAGS) {
    const value = keepable(tags[tag]);
    if (value !== null) metadata[tag] = value;
  }
  const capturedAt = captureTime(tags.DateTimeOriginal ?? tags.CreateDate, tags.OffsetTimeOriginal);
  if (capturedAt) metadata.DateTimeOriginal = capturedAt.toISOString();
  return { capturedAt, location: validLocation(tags.latitude, tags.longitude), metadata };
}

/**
 * EXIF dates are wall-clock times without a zone; exifr revives them in the server's zone. The
 * wall clock is read back from that Date and taken as UTC, shifted by OffsetTimeOriginal
 * ("+02:00") when the camera recorded one, so the answer never depends on the server's zone.
 */
function captureTime(value: unknown, offset: unknown): Date | null {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return null;
  const wallClock = Date.UTC(value.getFullYear(), value.getMonth(), value.getDate(), value.getHours(), value.getMinutes(), value.getSeconds(), value.getMilliseconds());
  const match = typeof offset === 'string' ? /^([+-])(\d{2}):(\d{2})$/.exec(offset.trim()) : null;
  const shiftMinutes = match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
  const at = new Date(wallClock - shiftMinutes * 60_000);
  return Number.isNaN(at.getTime()) ? null : at;
}
