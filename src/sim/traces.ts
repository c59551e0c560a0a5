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

/**
 * The Azure Functions 2019 trace (`HashOwner,HashApp,HashFunction,Trigger,1,…,1440`):
 * invocations per minute of a day. Rows are added up (or only `functionHash`'s
 * row), and each minute's invocations are spread uniformly within it.
 */
export function parseAzureTrace(text: string, rng: Random, functionHash?: string): number[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new TraceError(1, 'empty trace');
  const header = lines[0].split(',');
  if (header[0] !== 'HashOwner' || header[4] !== '1') throw new TraceError(1, 'expected the header HashOwner,HashApp,HashFunction,Trigger,1,…,1440');
  const minutes = header.length - 4;
  const perMinute = new Float64Array(minutes);
  let rows = 0;
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(',');
    if (functionHash !== undefined && cells[2] !== functionHash) return;
    if (cells.length !== header.length) throw new TraceError(i + 2, `expected ${header.length} columns, got ${cells.length}`);
    for (let m = 0; m < minutes; m++) {
      const n = Number(cells[4 + m]);
      if (!Number.isInteger(n) || n < 0) throw new TraceError(i + 2, `minute ${m + 1}: not a count: ${JSON.stringify(cells[4 + m])}`);
      perMinute[m] += n;
    }
    rows++;
  });
  if (rows === 0) throw new TraceError(2, functionHash ? `no row for function ${functionHash}` : 'no data rows');
  const out: number[] = [];
  for (let m = 0; m < minutes; m++) {
    const times = Array.from({ length: perMinute[m] }, () => 60 * m + 60 * rng.next()).sort((a, b) => a - b);
    for (const t of times) out.push(t);
  }
  return out;
}
