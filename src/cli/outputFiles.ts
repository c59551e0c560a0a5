import { createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { FileArgumentError } from './usage.js';

/**
 * Opens `path` for writing now, so a bad path is a clear error before any
 * work starts (a stream opened lazily would fail later, as an unhandled
 * 'error' event). A later write error is kept and reported by `closeOutput`.
 */
export function openOutputFile(option: string, path: string): WriteStream {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new FileArgumentError(option, path, err as Error);
  }
  const stream = createWriteStream(path, { fd });
  stream.on('error', () => undefined); // surfaced by closeOutput
  return stream;
}

/** Ends a stream from openOutputFile; rejects with the first write error, naming the option and path. */
export function closeOutput(option: string, path: string, stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.end((err?: Error | null) => (err ? reject(new FileArgumentError(option, path, err)) : resolve()));
  });
}

/** Creates an output directory (and its parents), or fails naming the option. */
export function makeOutputDir(option: string, path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    throw new FileArgumentError(option, path, err as Error);
  }
}
