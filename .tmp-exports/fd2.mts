import yauzl from 'yauzl';
import fs from 'node:fs';
class R extends yauzl.RandomAccessReader {
  constructor(private readonly fd: number) { super(); }
  override _readStreamForRange(start: number, end: number) { console.log('range', start, end, this.fd); return fs.createReadStream('', { fd: this.fd, start, end: end - 1, autoClose: false }); }
  override close(cb: (e: Error|null)=>void) { console.log('close', new Error().stack); fs.close(this.fd, cb); }
}
const fd = fs.openSync(process.argv[2]!, 'r');
const size = fs.fstatSync(fd).size;
const z = await yauzl.fromRandomAccessReaderPromise(new R(fd), size, { lazyEntries: true, autoClose: false, decodeStrings: false });
z.on('entry', (e) => { console.log(e.fileNameRaw.toString()); z.readEntry(); });
z.on('error', (e) => console.log('err', e));
z.readEntry();
