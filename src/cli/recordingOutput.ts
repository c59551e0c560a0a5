import { closeSync, createWriteStream, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { Recorder } from '../recording/recorder.js';
import { naming } from './outputFiles.js';
import { FileArgumentError } from './usage.js';

/** What `kpa run --record FILE` does with a FILE that already holds something (default, --record-append, --force). */
export type ExistingRecording = 'refuse' | 'append' | 'overwrite';

/** How long stopping waits for the disk to take the rest of the recording: a recording must not hold up a shutdown. */
export const RECORDING_FLUSH_TIMEOUT_MS = 2000;

export interface RecordingOutputOptions {
  /** The recorder's bound on bytes waiting for the disk (tests make it small). */
  maxBufferedBytes?: number;
  flushTimeoutMs?: number;
}

const OPTION = '--record';

/**
 * `kpa run --record FILE`: the recorder and the stream it writes to. The
 * recorder drops events rather than buffer without bound; closing waits at
 * most RECORDING_FLUSH_TIMEOUT_MS for the rest, then gives up on it and says
 * how much was lost.
 */
export class RecordingOutput {
  readonly recorder: Recorder;
  /** Set once closing starts: an event that comes later (a last stat of a stopping service) is not a write after end. */
  private closing = false;

  /** Opens FILE now, so a bad path or a refused existing recording is an error before the service starts. */
  static open(path: string, existing: ExistingRecording, options: RecordingOutputOptions = {}): RecordingOutput {
    const { fd, appending } = openRecordingFile(path, existing);
    return new RecordingOutput(path, createWriteStream(path, { fd }), appending, options);
  }

  constructor(private readonly path: string, private readonly stream: Writable, appending: boolean, private readonly options: RecordingOutputOptions = {}) {
    stream.on('error', () => undefined); // a write error is kept by the stream and reported by close()
    const sink = {
      write: (line: string): void => {
        if (!this.closing) stream.write(line);
      },
      get writableLength(): number {
        return stream.writableLength;
      },
    };
    this.recorder = new Recorder(sink, { appending, maxBufferedBytes: options.maxBufferedBytes });
  }

  /**
   * Ends the recording: rejects with a FileArgumentError naming the file on
   * the first write error, or when the disk has not taken everything within
   * the timeout (the stream is destroyed then, and the message says how many
   * bytes were lost).
   */
  close(): Promise<void> {
    this.recorder.reportDropped();
    this.closing = true;
    const timeoutMs = this.options.flushTimeoutMs ?? RECORDING_FLUSH_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const lost = this.stream.writableLength;
        this.stream.destroy();
        reject(new FileArgumentError(OPTION, this.path,
          `the disk had not taken the last ${lost} bytes of the recording ${timeoutMs / 1000} s after stopping; they are lost and the recording ends early`));
      }, timeoutMs);
      this.stream.end((err?: Error | null) => {
        clearTimeout(timer);
        if (err) reject(new FileArgumentError(OPTION, this.path, err));
        else resolve();
      });
    });
  }
}

/**
 * Opens the recording file. By default a file holding something is refused,
 * never truncated (an empty file, or a device such as /dev/stdout, has
 * nothing to lose); appending to one that does makes the recorder begin with
 * a `restart` marker, after a newline if its last line was cut short.
 */
function openRecordingFile(path: string, existing: ExistingRecording): { fd: number; appending: boolean } {
  if (existing === 'overwrite') return { fd: naming(OPTION, path, () => openSync(path, 'w')), appending: false };
  if (existing === 'append') {
    return naming(OPTION, path, () => {
      const fd = openSync(path, 'a');
      const opened = fstatSync(fd);
      const size = opened.isFile() ? opened.size : 0;
      if (size > 0 && lastByte(path, size) !== 0x0a) writeSync(fd, '\n');
      return { fd, appending: size > 0 };
    });
  }
  const created = naming(OPTION, path, () => {
    try {
      return openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw err;
    }
  });
  if (created !== null) return { fd: created, appending: false };
  const held = naming(OPTION, path, () => statSync(path));
  if (held.isFile() && held.size > 0) {
    throw new FileArgumentError(OPTION, path, 'the file exists; give --record-append to add to it or --force to overwrite it');
  }
  return { fd: naming(OPTION, path, () => openSync(path, 'w')), appending: false };
}

function lastByte(path: string, size: number): number {
  const fd = openSync(path, 'r');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, size - 1);
    return byte[0];
  } finally {
    closeSync(fd);
  }
}
