// A 300 MiB evidence file goes into a bundle and through the verifier without either of them
// holding it in memory.
import t from 'tap';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyBundle } from '../../src/verify/verify-bundle.ts';
import { makeFixture, writeBundle } from '../exports/fixture.ts';

const MiB = 1024 * 1024;
const SIZE = 300 * MiB + 12_345;

/** Runs `work` while sampling the resident set size; returns its growth over the start. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  globalThis.gc?.();
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - start };
  } finally {
    clearInterval(timer);
  }
}

t.test('a 300 MiB evidence file is streamed through the writer and the verifier', async (t) => {
  const fixture = await makeFixture([
    { name: 'drone footage.mp4', generatedSize: SIZE },
    { name: 'note.txt', bytes: Buffer.from('small') },
  ]);
  t.teardown(fixture.cleanup);
  const path = join(fixture.dir, 'big.zip');

  let lastProgress = 0;
  const written = await peakGrowth(() =>
    writeBundle(fixture.plan, {
      path,
      signingKey: fixture.key,
      onProgress: (p) => {
        lastProgress = p.bytesWritten / p.estimatedTotalBytes;
      },
    }),
  );
  t.ok(written.result.bytes > SIZE, 'the zip holds the file');
  t.equal((await stat(path)).size, written.result.bytes);
  t.ok(lastProgress > 0.99 && lastProgress <= 1.01, `progress ends near 1 (${lastProgress})`);
  t.ok(written.growth < 96 * MiB, `writer memory grew by ${(written.growth / MiB).toFixed(1)} MiB`);

  let progressCalls = 0;
  let progressDone = 0;
  let progressTotal = 0;
  const verified = await peakGrowth(() =>
    verifyBundle(path, {
      onProgress: (done, total) => {
        progressCalls += 1;
        progressDone = done;
        progressTotal = total;
      },
    }),
  );
  t.equal(verified.result.ok, true, verified.result.firstFailure?.problem ?? 'verified');
  t.ok(progressCalls > 100, 'progress reported while hashing');
  t.equal(progressDone, progressTotal, 'progress reaches the total');
  t.ok(verified.growth < 96 * MiB, `verifier memory grew by ${(verified.growth / MiB).toFixed(1)} MiB`);
});
