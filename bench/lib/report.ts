// Benchmarks print one figure per line, `name: value unit`, so runs can be compared by eye or diff.
export function report(name: string, value: number | string, unit = ''): void {
  const shown = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1)) : value;
  process.stdout.write(`${name}: ${shown}${unit ? ` ${unit}` : ''}\n`);
}

/** The p-th percentile (0–100) of a list of numbers (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Runs `fn` `times` times in a row and answers each duration in milliseconds. */
export async function timeEach(times: number, fn: () => Promise<unknown>): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await fn();
    durations.push(performance.now() - start);
  }
  return durations;
}
