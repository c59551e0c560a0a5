/** A line longer than the limit: reported without buffering the rest of it. */
export class LineTooLongError extends Error {
  constructor(readonly lineNumber: number, readonly limit: number) {
    super(`line is longer than ${limit} bytes`);
    this.name = 'LineTooLongError';
  }
}

/**
 * Splits chunks of a byte stream into UTF-8 lines (without "\n" or "\r\n"),
 * numbered from 1, synchronously per chunk, and refuses a line as soon as it
 * grows past `maxLineBytes`.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private count = 0;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer, onLine: (line: string, lineNumber: number) => void): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.count++;
      if (this.pendingBytes + (nl - start) > this.maxLineBytes) throw new LineTooLongError(this.count, this.maxLineBytes);
      let line: string;
      if (this.pendingBytes === 0) line = chunk.toString('utf8', start, nl);
      else {
        line = Buffer.concat([...this.pending, chunk.subarray(start, nl)]).toString('utf8');
        this.pending = [];
        this.pendingBytes = 0;
      }
      start = nl + 1;
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line, this.count);
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) throw new LineTooLongError(this.count + 1, this.maxLineBytes);
      this.pending.push(chunk.subarray(start));
    }
  }

  /** Flushes a last line that had no newline. */
  end(onLine: (line: string, lineNumber: number) => void): void {
    if (this.pendingBytes === 0) return;
    const line = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.count++;
    onLine(line.endsWith('\r') ? line.slice(0, -1) : line, this.count);
  }
}
