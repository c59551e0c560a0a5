import type { Readable, Writable } from 'node:stream';
import { ConfigError } from '../config/errors.js';
import { decisionLine } from './decisionLine.js';
import { type DroppedEvent, parseEventLine, RecordingError } from './events.js';
import { LineSplitter, LineTooLongError } from './lineSplitter.js';
import { Replayer } from './replayer.js';

/** The longest recording line accepted; real events are a few hundred bytes. */
export const MAX_LINE_BYTES = 1024 * 1024;
const FLUSH_BYTES = 64 * 1024;

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
 * a ReplayError naming it. A `dropped` line is passed to `onDropped` and the
 * replay goes on. Resolves with the number of decisions written.
 */
export async function replayStream(input: Readable, output: Writable, onDropped?: (lineNumber: number, event: DroppedEvent) => void): Promise<number> {
  const replayer = new Replayer();
  const splitter = new LineSplitter(MAX_LINE_BYTES);
  let buffered = '';
  let decisions = 0;
  const flush = async (): Promise<void> => {
    if (buffered === '') return;
    const text = buffered;
    buffered = '';
    if (!output.write(text)) await new Promise<void>((resolve) => output.once('drain', resolve));
  };
  const onLine = (line: string, lineNumber: number): void => {
    if (line.trim() === '') return;
    try {
      const event = parseEventLine(line);
      const result = replayer.apply(event);
      if (event.type === 'dropped') onDropped?.(lineNumber, event);
      if (result !== null && event.type === 'tick') {
        buffered += `${decisionLine(event.t, event, result)}\n`;
        decisions++;
      }
    } catch (err) {
      throw toReplayError(err, lineNumber);
    }
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, onLine);
      if (buffered.length >= FLUSH_BYTES) await flush();
    }
    splitter.end(onLine);
  } catch (err) {
    await flush();
    if (err instanceof LineTooLongError) throw new ReplayError(err.lineNumber, err.message);
    throw err;
  }
  await flush();
  return decisions;
}

function toReplayError(err: unknown, lineNumber: number): Error {
  if (err instanceof RecordingError) return new ReplayError(lineNumber, err.message);
  if (err instanceof ConfigError) return new ReplayError(lineNumber, `invalid configuration: ${err.message}`);
  return err as Error;
}
