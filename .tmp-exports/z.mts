import { ZipArchive } from '/work/main/src/verify/zip-archive.ts';
const z = await ZipArchive.open(process.argv[2]!);
console.log(z.items.length);
for (const item of z.items.slice(0,3)) { const b = await z.read(item, 1e6); console.log(item.name, b.length); }
z.close();
