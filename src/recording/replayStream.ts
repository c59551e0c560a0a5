import type { Writable } from 'node:stream';
import { ConfigError } from '../config/errors.js';
import { unknownKeyWarnings } from '../config/unknownKeys.js';
import { explainDecision } from '../service/explain.js';
import { DecisionLines } from './decisionLine.js';
import { type DroppedEvent, parseEventLine, RecordingError } from './events.js';
import { EventScanner } from './eventScanner.js';
import { type LineSink, LineSplitter, LineTooLongError } from './lineSplitter.js';
import { Replayer } from './replayer.js';
import type { RevisionSettings } from '../config/revisionConfig.js';
import type { ScaleResult } from '../decider/decider.js';
import type { RevisionKey } from '../metrics/revisionKey.js';

/** The longest recording line accepted; real events are a few hundred bytes. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** Where and why a recording was rejected. */
export class ReplayError extends Error {
  constructor(readonly lineNumber: number, readonly reason: string) {
    super(`line ${lineNumber}: ${reason}`);
    this.name = 'ReplayError';
  }
}

export interface ReplayOptions {
  /** A `dropped` line: the live recorder could not keep up there. */
  onDropped?: (lineNumber: number, event: DroppedEvent) => void;
  /** A revision line with a key nothing reads (unknownKeyWarnings); each message once. */
  onWarning?: (lineNumber: number, message: string) => void;
  /** Each decision line also carries `"explain"`: the dashboard's "why" text. */
  explain?: boolean;
}

/**
 * Replays a recording from `input` (a stream, or chunks that may share one
 * buffer: each is replayed before the next is asked for), writing one
 * decision line per tick to `output`. Decisions before a bad line are
 * written; the bad line rejects with a ReplayError naming it. A `dropped`
 * line (the live recorder could not keep up) is passed to `onDropped`, an
 * unknown config key or annotation to `onWarning`, and the replay goes on. Resolves with the number of decisions written.
 */
export async function replayStream(
  input: AsyncIterable<Buffer | string>, output: Writable, options: ReplayOptions = {},
): Promise<number> {
  const lines = new ReplayLines(options);
  const splitter = new LineSplitter(MAX_LINE_BYTES, lines);
  const flush = async (): Promise<void> => {
    for (const piece of lines.output.take()) {
      if (!output.write(piece)) await new Promise<void>((resolve) => output.once('drain', resolve));
    }
  };
  try {
    for await (const chunk of input) {
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
  readonly output = new DecisionLines();
  decisions = 0;
  private readonly warned = new Set<string>();

  constructor(private readonly o: ReplayOptions) {}

  line(buf: Buffer, start: number, end: number, lineNumber: number): void {
    try {
      let event = this.scanner.scan(buf, start, end);
      if (event === null) {
        const text = buf.toString('utf8', start, end);
        if (text.trim() === '') return;
        event = parseEventLine(text);
      }
      const result = this.replayer.apply(event);
      if (event.type === 'dropped') this.o.onDropped?.(lineNumber, event);
      if (event.type === 'revision' && this.o.onWarning) this.warn(event, lineNumber);
      if (result !== null && event.type === 'tick') {
        this.output.add(event.t, event, result, this.o.explain ? this.explain(event, result) : undefined);
        this.decisions++;
      }
    } catch (err) {
      throw toReplayError(err, lineNumber);
    }
  }

  private warn(settings: RevisionSettings & RevisionKey, lineNumber: number): void {
    for (const { message } of unknownKeyWarnings(settings)) {
      // A recording repeats a revision's line on every change: say each thing once (bounded: names may not end).
      if (this.warned.has(message) || this.warned.size >= 1000) continue;
      this.warned.add(message);
      this.o.onWarning!(lineNumber, `${settings.namespace}/${settings.name}: ${message}`);
    }
  }

  private explain(key: RevisionKey, result: ScaleResult): string {
    const { decider, metric } = this.replayer.scalers.get(key)!.resolved;
    return explainDecision(result, decider, metric.panicWindowSeconds);
  }
}

function toReplayError(err: unknown, lineNumber: number): Error {
  if (err instanceof RecordingError) return new ReplayError(lineNumber, err.message);
  if (err instanceof ConfigError) return new ReplayError(lineNumber, `invalid configuration: ${err.message}`);
  return err as Error;
}
