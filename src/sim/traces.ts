import { type LineSource, textLines } from './lineReader.js';
import type { Random } from './random.js';

/** A trace file that cannot be used; `line` is 1-based. */
export class TraceError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'TraceError';
  }
}

/**
 * A CSV of request timestamps in seconds from the start (first column; a
 * header line is skipped). Timestamps must not go backwards.
 */
export function parseTimestampCsv(text: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const cell = raw.split(',')[0]?.trim() ?? '';
    if (cell === '') return;
    const t = Number(cell);
    if (!Number.isFinite(t)) {
      if (i === 0) return; // a header
      throw new TraceError(i + 1, `not a number: ${JSON.stringify(cell)}`);
    }
    if (t < 0) throw new TraceError(i + 1, `timestamp ${t} is negative`);
    if (out.length && t < out[out.length - 1]) throw new TraceError(i + 1, `timestamp ${t} is before the previous one (${out[out.length - 1]}): timestamps must be sorted`);
    out.push(t);
  });
  return out;
}

/** How a minute's invocations are placed within it. */
export type Spread = 'uniform' | 'exponential' | 'equidistant';
export const SPREADS: readonly Spread[] = ['uniform', 'exponential', 'equidistant'];

/** One row of an Azure Functions 2019 invocations file. */
export interface Azure2019Function {
  owner: string;
  app: string;
  function: string;
  trigger: string;
  /** Invocations in each minute. */
  perMinute: Float64Array;
  total: number;
}

const AZURE2019_HEADER = 'expected the header HashOwner,HashApp,HashFunction,Trigger,1,…,1440';

/**
 * Reads an Azure Functions 2019 invocations file (`HashOwner,HashApp,HashFunction,Trigger,1,…,1440`,
 * per-minute counts) line by line, handing each row that `wanted(hashFunction)`
 * accepts to `onRow` (rows it refuses are not even checked: a day's file has
 * tens of thousands). Returns the number of minutes.
 */
function eachAzure2019Row(lines: LineSource, wanted: (fn: string) => boolean, onRow: (row: Azure2019Function) => void): number {
  let columns = 0;
  lines((line, n) => {
    if (line.trim() === '') return;
    const cells = line.split(',');
    if (columns === 0) {
      if (cells[0] !== 'HashOwner' || cells[4] !== '1') throw new TraceError(n, AZURE2019_HEADER);
      columns = cells.length;
      return;
    }
    if (!wanted(cells[2])) return;
    if (cells.length !== columns) throw new TraceError(n, `expected ${columns} columns, got ${cells.length}`);
    const perMinute = new Float64Array(columns - 4);
    let total = 0;
    for (let m = 0; m < perMinute.length; m++) {
      const v = Number(cells[4 + m]);
      if (!Number.isInteger(v) || v < 0 || cells[4 + m].trim() === '') throw new TraceError(n, `minute ${m + 1}: not a count: ${JSON.stringify(cells[4 + m])}`);
      perMinute[m] = v;
      total += v;
    }
    onRow({ owner: cells[0], app: cells[1], function: cells[2], trigger: cells[3], perMinute, total });
  });
  if (columns === 0) throw new TraceError(1, 'empty trace');
  return columns - 4;
}

/** The per-minute invocations of all rows added up, or of `functionHash`'s rows only. */
export function azure2019PerMinute(lines: LineSource, functionHash?: string): Float64Array {
  let sum: Float64Array | undefined;
  let rows = 0;
  const minutes = eachAzure2019Row(lines, (fn) => functionHash === undefined || fn === functionHash, (row) => {
    sum ??= new Float64Array(row.perMinute.length);
    for (let m = 0; m < sum.length; m++) sum[m] += row.perMinute[m];
    rows++;
  });
  if (rows === 0) throw new TraceError(2, functionHash ? `no row for function ${functionHash}` : 'no data rows');
  return sum ?? new Float64Array(minutes);
}

/**
 * The `top` busiest rows (most invocations in the file) with at least
 * `minInvocations`, busiest first; ties keep the file's order. Only the
 * current top rows are kept while reading.
 */
export function azure2019Busiest(lines: LineSource, top: number, minInvocations = 0): Azure2019Function[] {
  const kept: Azure2019Function[] = [];
  let rows = 0;
  eachAzure2019Row(lines, () => true, (row) => {
    rows++;
    if (row.total < minInvocations || row.total === 0) return;
    if (kept.length === top && row.total <= kept[kept.length - 1].total) return;
    let i = kept.length;
    while (i > 0 && kept[i - 1].total < row.total) i--;
    kept.splice(i, 0, row);
    if (kept.length > top) kept.pop();
  });
  if (rows === 0) throw new TraceError(2, 'no data rows');
  if (kept.length === 0) throw new TraceError(2, `no function has ${minInvocations > 0 ? `at least ${minInvocations} invocations` : 'any invocation'}`);
  return kept;
}

/**
 * Request times from per-minute counts: `uniform` places minute m's n
 * requests independently and uniformly in [60m, 60m + 60); `equidistant`
 * at 60m + 60(k + ½)/n for k = 0…n−1; `exponential` makes a Poisson process
 * at n/60 per second within the minute (so the count itself varies, with mean n).
 */
export function spreadPerMinute(perMinute: ArrayLike<number>, spread: Spread, rng: Random): number[] {
  const out: number[] = [];
  for (let m = 0; m < perMinute.length; m++) {
    const n = perMinute[m];
    if (n <= 0) continue;
    const start = 60 * m;
    if (spread === 'uniform') {
      const times = Array.from({ length: n }, () => start + 60 * rng.next()).sort((a, b) => a - b);
      for (const t of times) out.push(t);
    } else if (spread === 'equidistant') {
      for (let k = 0; k < n; k++) out.push(start + (60 * (k + 0.5)) / n);
    } else {
      const mean = 60 / n;
      for (let t = start + rng.exponential(mean); t < start + 60; t += rng.exponential(mean)) out.push(t);
    }
  }
  return out;
}

/**
 * The Azure Functions 2019 trace (`HashOwner,HashApp,HashFunction,Trigger,1,…,1440`):
 * invocations per minute of a day. Rows are added up (or only `functionHash`'s
 * row), and each minute's invocations are spread uniformly within it.
 */
export function parseAzureTrace(text: string, rng: Random, functionHash?: string): number[] {
  return spreadPerMinute(azure2019PerMinute(textLines(text), functionHash), 'uniform', rng);
}

/** A 2019 durations row's percentile columns, and the percentiles they are. */
const DURATION_PERCENTILES = [0, 1, 25, 50, 75, 99, 100] as const;

/**
 * The execution-time percentiles of one function from an Azure Functions 2019
 * durations file (`HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,…_100`,
 * milliseconds), as [percent, seconds] pairs; columns are found by name.
 */
export function azure2019DurationPercentiles(lines: LineSource, functionHash: string): Array<[number, number]> {
  let index: number[] | undefined;
  let fnColumn = -1;
  let found: Array<[number, number]> | undefined;
  lines((line, n) => {
    if (line.trim() === '') return;
    const cells = line.split(',');
    if (!index) {
      fnColumn = cells.indexOf('HashFunction');
      index = DURATION_PERCENTILES.map((p) => cells.indexOf(`percentile_Average_${p}`));
      if (fnColumn < 0 || index.some((i) => i < 0)) {
        throw new TraceError(n, 'expected the header HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,_1,_25,_50,_75,_99,_100');
      }
      return;
    }
    if (cells[fnColumn] !== functionHash) return;
    found = DURATION_PERCENTILES.map((p, k): [number, number] => {
      const raw = cells[index![k]] ?? '';
      const ms = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(ms) || ms < 0) throw new TraceError(n, `percentile_Average_${p}: not a duration in ms: ${JSON.stringify(raw)}`);
      return [p, ms / 1000];
    });
    for (let k = 1; k < found.length; k++) {
      if (found[k][1] < found[k - 1][1]) throw new TraceError(n, `percentile_Average_${found[k][0]} (${found[k][1] * 1000} ms) is below percentile_Average_${found[k - 1][0]} (${found[k - 1][1] * 1000} ms)`);
    }
    return false;
  });
  if (!index) throw new TraceError(1, 'empty file');
  if (!found) throw new TraceError(2, `no row for function ${functionHash}`);
  return found;
}

/** Invocations of one app (or one of its functions) from an Azure Functions 2021 trace. */
export interface Azure2021Invocations {
  /** Start times (end_timestamp − duration, at least 0), sorted, in seconds. */
  starts: number[];
  /** The invocations' durations in seconds, when asked for (in no particular order). */
  durations?: number[];
  /** Start times that were before 0 and were moved to 0. */
  clamped: number;
}

/** A growable Float64Array: a million numbers cost 8 MB, not an array's boxed doubles. */
class Doubles {
  private buf = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = v;
  }
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}

const AZURE2021_HEADER = 'expected the header app,func,end_timestamp,duration';

/**
 * Reads an Azure Functions 2021 invocation trace (`app,func,end_timestamp,duration`,
 * seconds) line by line and keeps the invocations of `app` (and `func`, when
 * given): each starts at end_timestamp − duration. With the usual column order
 * a line of another app is skipped without being split.
 */
export function readAzure2021(lines: LineSource, select: { app: string; func?: string; durations?: boolean }): Azure2021Invocations {
  let cols: { app: number; func: number; end: number; duration: number; count: number } | undefined;
  let prefix: string | undefined;
  const starts = new Doubles();
  const durations = select.durations ? new Doubles() : undefined;
  let clamped = 0;
  lines((line, n) => {
    if (!cols) {
      if (line.trim() === '') return;
      const header = line.split(',').map((c) => c.trim());
      const at = (name: string) => header.indexOf(name);
      cols = { app: at('app'), func: at('func'), end: at('end_timestamp'), duration: at('duration'), count: header.length };
      if (cols.app < 0 || cols.func < 0 || cols.end < 0 || cols.duration < 0) throw new TraceError(n, AZURE2021_HEADER);
      if (cols.app === 0) prefix = select.func !== undefined && cols.func === 1 ? `${select.app},${select.func},` : `${select.app},`;
      return;
    }
    if (prefix !== undefined && !line.startsWith(prefix)) return;
    const cells = line.split(',');
    if (cells[cols.app] !== select.app || (select.func !== undefined && cells[cols.func] !== select.func)) return;
    if (cells.length !== cols.count) throw new TraceError(n, `expected ${cols.count} columns, got ${cells.length}`);
    const end = Number(cells[cols.end]);
    const duration = Number(cells[cols.duration]);
    if (!Number.isFinite(end) || cells[cols.end].trim() === '') throw new TraceError(n, `end_timestamp: not a number: ${JSON.stringify(cells[cols.end])}`);
    if (!Number.isFinite(duration) || duration < 0 || cells[cols.duration].trim() === '') throw new TraceError(n, `duration: not a duration in seconds: ${JSON.stringify(cells[cols.duration])}`);
    let start = end - duration;
    if (start < 0) {
      start = 0;
      clamped++;
    }
    starts.push(start);
    durations?.push(duration);
  });
  if (!cols) throw new TraceError(1, 'empty trace');
  if (starts.length === 0) throw new TraceError(2, `no invocation of app ${select.app}${select.func !== undefined ? ` function ${select.func}` : ''}`);
  const sorted = starts.view().sort();
  return { starts: Array.from(sorted), durations: durations ? Array.from(durations.view()) : undefined, clamped };
}
