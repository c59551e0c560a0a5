import type { Readable, Writable } from 'node:stream';
import { ConfigError } from '../config/errors.js';
import { decisionLine } from './decisionLine.js';
import { parseEventLine, RecordingError } from './events.js';
import { EventScanner } from './eventScanner.js';
import { type LineSink, LineSplitter, LineTooLongError } from './lineSplitter.js';
import { Replayer } from './replayer.js';

/** The longest recording line accepted; real events are a few hundred bytes. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Output is written in pieces of this size, once a chunk of input has been replayed. */
const OUTPUT_BYTES = 64 * 1024;

/** Where and why a recording was rejected. */
export class ReplayError extends Error {
  constructor(readonly lineNumber: number, readonly reason: string) {
    super(`line ${lineNumber}: ${reason}`);
    this.name = 'ReplayError';
  }
}

/**
 * Replays a recording from `input`, writing one decision line per tick to
 * `output`. Decisions before a bad line are written; the bad line rejects with
 * a ReplayError naming it. Resolves with the number of decisions written.
 */
export async function replayStream(input: Readable, output: Writable): Promise<number> {
  const lines = new ReplayLines();
  const splitter = new LineSplitter(MAX_LINE_BYTES, lines);
  const flush = async (): Promise<void> => {
    for (const piece of lines.output.take()) {
      if (!output.write(piece)) await new Promise<void>((resolve) => output.once('drain', resolve));
    }
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (lines.output.full) await flush();
    }
    splitter.end();
  } catch (err) {
    await flush();
    if (err instanceof LineTooLongError) throw new ReplayError(err.lineNumber, err.message);
    throw err;
  }
  await flush();
  return lines.decisions;
}

/** Each line through the engine: the common events read from the bytes, the rest through JSON.parse. */
class ReplayLines implements LineSink {
  private readonly replayer = new Replayer();
  private readonly scanner = new EventScanner();
  readonly output = new DecisionBytes();
  decisions = 0;

  line(buf: Buffer, start: number, end: number, lineNumber: number): void {
    try {
      let event = this.scanner.scan(buf, start, end);
      if (event === null) {
        const text = buf.toString('utf8', start, end);
        if (text.trim() === '') return;
        event = parseEventLine(text);
      }
      const result = this.replayer.apply(event);
      if (result !== null) {
        this.output.add(decisionLine(event.t, event, result));
        this.decisions++;
      }
    } catch (err) {
      throw toReplayError(err, lineNumber);
    }
  }
}

/**
 * Decision lines as UTF-8 bytes, in pieces of OUTPUT_BYTES. Not a string
 * built up until the next write: such a string outlives young-generation
 * collections, and V8 grows the heap (and the RSS) for whatever survives them.
 */
class DecisionBytes {
  private piece = Buffer.allocUnsafe(OUTPUT_BYTES);
  private used = 0;
  private readonly filled: Buffer[] = [];

  /** Whether a piece is ready to be written. */
  get full(): boolean {
    return this.filled.length > 0;
  }

  /** Appends a line and its newline. */
  add(line: string): void {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    const most = 3 * line.length + 1;
    if (this.used + most > OUTPUT_BYTES) {
      this.seal();
      if (most > OUTPUT_BYTES) {
        this.filled.push(Buffer.from(`${line}\n`));
        return;
      }
    }
    this.used += this.piece.write(line, this.used);
    this.piece[this.used++] = 10;
  }

  /** Everything added so far, handed over once. */
  take(): Buffer[] {
    this.seal();
    return this.filled.splice(0);
  }

  private seal(): void {
    if (this.used === 0) return;
    this.filled.push(this.piece.subarray(0, this.used));
    this.piece = Buffer.allocUnsafe(OUTPUT_BYTES);
    this.used = 0;
  }
}

function toReplayError(err: unknown, lineNumber: number): Error {
  if (err instanceof RecordingError) return new ReplayError(lineNumber, err.message);
  if (err instanceof ConfigError) return new ReplayError(lineNumber, `invalid configuration: ${err.message}`);
  return err as Error;
}
