// A tiny JPEG carrying an EXIF block (camera, DateTimeOriginal, GPS), built byte by byte so the
// test owns its fixture.
interface Entry {
  tag: number;
  type: 2 | 3 | 4 | 5;
  count: number;
  data: Buffer;
}

const ascii = (tag: number, text: string): Entry => ({ tag, type: 2, count: text.length + 1, data: Buffer.from(`${text}\0`, 'latin1') });
const long = (tag: number, value: number): Entry => {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(value);
  return { tag, type: 4, count: 1, data };
};
const rationals = (tag: number, values: [number, number][]): Entry => {
  const data = Buffer.alloc(8 * values.length);
  values.forEach(([n, d], i) => {
    data.writeUInt32LE(n, i * 8);
    data.writeUInt32LE(d, i * 8 + 4);
  });
  return { tag, type: 5, count: values.length, data };
};

const ifdSize = (entries: Entry[]) => 2 + entries.length * 12 + 4 + entries.reduce((n, e) => n + (e.data.length > 4 ? e.data.length : 0), 0);

/** One IFD at `offset` (from the TIFF header), its out-of-line values right after it. */
function ifd(entries: Entry[], offset: number): Buffer {
  const head = Buffer.alloc(2 + entries.length * 12 + 4);
  head.writeUInt16LE(entries.length, 0);
  const extra: Buffer[] = [];
  let dataOffset = offset + head.length;
  entries.forEach((entry, i) => {
    const at = 2 + i * 12;
    head.writeUInt16LE(entry.tag, at);
    head.writeUInt16LE(entry.type, at + 2);
    head.writeUInt32LE(entry.count, at + 4);
    if (entry.data.length <= 4) entry.data.copy(head, at + 8);
    else {
      head.writeUInt32LE(dataOffset, at + 8);
      extra.push(entry.data);
      dataOffset += entry.data.length;
    }
  });
  return Buffer.concat([head, ...extra]);
}

export function jpegWithGps(): Buffer {
  const ifd0Entries = (exifAt: number, gpsAt: number) => [ascii(0x010f, 'Custodia'), ascii(0x0110, 'TestCam 1'), long(0x8769, exifAt), long(0x8825, gpsAt)];
  const exifEntries = [ascii(0x9003, '2024:05:06 07:08:09')];
  const gpsEntries = [
    ascii(0x0001, 'N'),
    rationals(0x0002, [[48, 1], [51, 1], [295, 10]]),
    ascii(0x0003, 'E'),
    rationals(0x0004, [[2, 1], [17, 1], [402, 10]]),
  ];
  const ifd0At = 8;
  const exifAt = ifd0At + ifdSize(ifd0Entries(0, 0));
  const gpsAt = exifAt + ifdSize(exifEntries);
  const tiff = Buffer.concat([
    Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00]),
    ifd(ifd0Entries(exifAt, gpsAt), ifd0At),
    ifd(exifEntries, exifAt),
    ifd(gpsEntries, gpsAt),
  ]);
  const app1Body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const app1Length = Buffer.alloc(2);
  app1Length.writeUInt16BE(app1Body.length + 2);
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1]), app1Length, app1Body, Buffer.from([0xff, 0xd9])]);
}
