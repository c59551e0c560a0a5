import { closeSync, openSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ReplayError, replayStream } from '../recording/replayStream.js';
import { type CommandContext, type OptionTable, parseCommandArgs, UsageError } from './usage.js';

export const REPLAY_USAGE = `kpa replay [--explain] FILE|-
  Feeds a recording (docs/recording-format.md) through the collector and
  decider in virtual time and prints one JSON decision per tick. "-" reads
  standard input. --explain adds to each decision an "explain" field: why the
  decider wanted that count, as the dashboard's decision log says it. A
  config-autoscaler key or autoscaling.knative.dev annotation that nothing
  reads is ignored, as Knative does, with a warning on standard error. A bad line stops the replay: its number and the reason go to
  standard error and the exit status is 2. Where the live recorder dropped
  events (its disk could not keep up) a warning with the line goes to
  standard error and the replay goes on (exit status 0).`;

const READ_BYTES = 256 * 1024;

/**
 * A file's bytes in chunks read into one buffer, each valid until the next is
 * asked for: no buffer per chunk to wait for a collection (replay memory
 * stays flat), no stream machinery per read. Reads block, which a replay
 * with nothing else to do can afford.
 */
async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) yield buffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const REPLAY_OPTIONS = {
  explain: { type: 'boolean' },
} as const satisfies OptionTable;

export async function replayCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(ctx.args, REPLAY_OPTIONS, true);
  if (positionals.length !== 1) throw new UsageError('replay takes exactly one FILE (or - for standard input)');
  const [file] = positionals;
  const input = file === '-' ? (ctx.stdin as AsyncIterable<Buffer | string>) : fileChunks(file);
  const where = file === '-' ? '<stdin>' : file;
  try {
    await replayStream(input, ctx.stdout as Writable, {
      explain: values.explain ?? false,
      onDropped: (lineNumber, { count }) => {
        ctx.stderr.write(`kpa replay: ${where}:${lineNumber}: the recorder dropped ${count} events here (the disk could not keep up); decisions after this point may differ from the live ones\n`);
      },
      onWarning: (lineNumber, message) => ctx.stderr.write(`kpa replay: ${where}:${lineNumber}: ${message}\n`),
    });
    return 0;
  } catch (err) {
    if (err instanceof ReplayError) {
      ctx.stderr.write(`kpa replay: ${where}:${err.lineNumber}: ${err.reason}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      ctx.stderr.write(`kpa replay: cannot read ${where}: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}
