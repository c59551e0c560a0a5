/** A line longer than the limit: reported without buffering the rest of it. */
export class LineTooLongError extends Error {
  constructor(readonly lineNumber: number, readonly limit: number) {
    super(`line is longer than ${limit} bytes`);
    this.name = 'LineTooLongError';
  }
}

/** Where the lines go: bytes [start, end) of `buf`, without "\n" or "\r\n", numbered from 1. */
export interface LineSink {
  line(buf: Buffer, start: number, end: number, lineNumber: number): void;
}

/**
 * Splits chunks of a byte stream into lines, synchronously per chunk, and
 * refuses a line as soon as it grows past `maxLineBytes`. A line is handed
 * over as a range of the chunk it lies in, not decoded: most are read
 * straight from the bytes. Only a line split across chunks is copied, so the
 * caller may read the next chunk into the same buffer.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private count = 0;

  constructor(private readonly maxLineBytes: number, private readonly sink: LineSink) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.count++;
      if (this.pendingBytes + (nl - start) > this.maxLineBytes) throw new LineTooLongError(this.count, this.maxLineBytes);
      if (this.pendingBytes === 0) {
        this.emit(chunk, start, nl);
      } else {
        const line = Buffer.concat([...this.pending, chunk.subarray(start, nl)]);
        this.pending = [];
        this.pendingBytes = 0;
        this.emit(line, 0, line.length);
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) throw new LineTooLongError(this.count + 1, this.maxLineBytes);
      this.pending.push(Buffer.from(chunk.subarray(start)));
    }
  }

  /** Flushes a last line that had no newline. */
  end(): void {
    if (this.pendingBytes === 0) return;
    const line = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.count++;
    this.emit(line, 0, line.length);
  }

  private emit(buf: Buffer, start: number, end: number): void {
    this.sink.line(buf, start, end > start && buf[end - 1] === 13 ? end - 1 : end, this.count);
  }
}
