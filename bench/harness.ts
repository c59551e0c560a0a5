import { cpus } from 'node:os';

/** One measured figure; `goal` is the figure to reach (higher is better unless `lowerIsBetter`). */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  goal?: number;
  lowerIsBetter?: boolean;
  /** The same figure for Knative's Go code on this kind of machine, where known. */
  reference?: number;
  /** Lowest and highest of the runs, where the value is a median of several. */
  spread?: [number, number];
}

/** The median of some measurements, with their lowest and highest. */
export function medianOf(values: number[]): { value: number; spread: [number, number] } {
  const sorted = [...values].sort((a, b) => a - b);
  return { value: sorted[Math.floor(sorted.length / 2)], spread: [sorted[0], sorted[sorted.length - 1]] };
}

/** The median of `runs` timings of `fn` in seconds, after one warm-up run. */
export function medianSeconds(fn: () => void, runs = 5): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function medianSecondsAsync(fn: () => Promise<void>, runs = 5): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown CPU'} × ${cpu.length}, Node ${process.version}, ${process.platform}/${process.arch}`;
}

function format(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(3);
}

/** A plain-text table: figure, goal, ratio to the goal (≥ 1 meets it) and to Knative's Go code. */
export function table(results: BenchResult[]): string {
  const rows = results.map((r) => {
    const ratio = (other: number | undefined) => {
      if (other === undefined) return '';
      const x = r.lowerIsBetter ? other / r.value : r.value / other;
      return `${x.toFixed(2)}×`;
    };
    const spread = r.spread === undefined ? '' : `${format(r.spread[0]).trim()}–${format(r.spread[1]).trim()}`;
    return [r.name, `${format(r.value)} ${r.unit}`, spread, r.goal === undefined ? '' : `${format(r.goal)} ${r.unit}`, ratio(r.goal), ratio(r.reference)];
  });
  const header = ['benchmark', 'measured', 'spread', 'goal', 'vs goal', 'vs Knative Go'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
