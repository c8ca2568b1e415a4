// Benchmarks print one figure per line, `name: value unit`, so runs can be compared by eye or diff.
export function report(name: string, value: number | string, unit = ''): void {
  const shown = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1)) : value;
  process.stdout.write(`${name}: ${shown}${unit ? ` ${unit}` : ''}\n`);
}

/**
 * The figures of a measurement repeated a few times in a row, printed once all runs are in: each
 * as its median (the highest for a peak), every run's value beside it. On a shared machine one
 * run can be 15 % off the next; a median of alternated runs is what a single figure cannot be.
 */
export class Tally {
  private readonly figures = new Map<string, { values: number[]; unit: string; peak: boolean }>();

  /** One run's value of a figure; `peak`: report the highest run, not the median. */
  add(name: string, value: number, unit = '', peak = false): void {
    const figure = this.figures.get(name) ?? { values: [], unit, peak };
    figure.values.push(value);
    this.figures.set(name, figure);
  }

  print(): void {
    for (const [name, { values, unit, peak }] of this.figures) {
      const runs = values.length > 1 ? ` [${peak ? 'highest' : 'median'} of ${values.length} runs: ${values.map((v) => v.toFixed(v < 10 ? 2 : 1)).join(', ')}]` : '';
      report(name, peak ? Math.max(...values) : median(values), `${unit}${runs}`);
    }
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
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
