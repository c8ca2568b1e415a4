// Uploads ask V8 for a scavenge every YOUNG_GARBAGE_BYTES received, so the HTTP parser's dead
// read buffers do not pile up; the `gc` function this needs never reaches the global object.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import t from 'tap';
import { YOUNG_GARBAGE_BYTES, noteYoungGarbage } from '../../src/storage/young-garbage.ts';

t.test('a scavenge once YOUNG_GARBAGE_BYTES were received, all callers together', async (t) => {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  t.teardown(() => observer.disconnect());

  noteYoungGarbage(YOUNG_GARBAGE_BYTES / 2);
  noteYoungGarbage(YOUNG_GARBAGE_BYTES / 2);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR), 'a minor collection ran');
  t.equal((globalThis as { gc?: unknown }).gc, undefined, 'no gc function on the global object');
});
