import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { FileArgumentError } from './usage.js';

/** Creates an output directory (and its parents), or fails naming the option. */
export function makeOutputDir(option: string, path: string): void {
  naming(option, path, () => mkdirSync(path, { recursive: true }));
}

function openForWriting(option: string, path: string): number {
  return naming(option, path, () => openSync(path, 'w'));
}

/** Runs a file operation; a failure becomes a FileArgumentError naming the option and path. */
export function naming<T>(option: string, path: string, operation: () => T): T {
  try {
    return operation();
  } catch (err) {
    throw new FileArgumentError(option, path, err as Error);
  }
}

/**
 * A file written synchronously in 64 KiB chunks, for output produced inside a
 * long synchronous run (a simulation): a stream would hold every line in
 * memory until the run yields to the event loop.
 */
export class SyncOutputFile {
  private readonly fd: number;
  private pending: string[] = [];
  private pendingLength = 0;

  constructor(private readonly option: string, private readonly path: string) {
    this.fd = openForWriting(option, path);
  }

  write(text: string): void {
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength >= 65_536) this.flush();
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.pendingLength === 0) return;
    naming(this.option, this.path, () => writeSync(this.fd, this.pending.join('')));
    this.pending = [];
    this.pendingLength = 0;
  }
}
