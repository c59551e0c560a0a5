import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/**
 * Something that hands out lines in order, with 1-based line numbers; the
 * callback returns `false` to stop early. Trace readers take one of these,
 * so they run the same on a file streamed from disk and on a string.
 */
export type LineSource = (onLine: (line: string, n: number) => boolean | void) => void;

/**
 * The lines of a file, read `chunkBytes` at a time: memory stays flat
 * however large the file (a two-week Azure trace is gigabytes). Synchronous,
 * so scenario parsing stays synchronous; UTF-8, line ends `\n` or `\r\n`, a
 * byte-order mark dropped.
 */
export function fileLines(file: string, chunkBytes = 1 << 20): LineSource {
  return (onLine) => {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(chunkBytes);
      const decoder = new StringDecoder('utf8');
      let rest = '';
      let first = true;
      let n = 0;
      for (;;) {
        const got = readSync(fd, buf, 0, chunkBytes, null);
        let text = rest + (got > 0 ? decoder.write(buf.subarray(0, got)) : decoder.end());
        if (first && text !== '') {
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
          first = false;
        }
        let start = 0;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
          const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          if (onLine(text.slice(start, end), ++n) === false) return;
          start = nl + 1;
        }
        rest = text.slice(start);
        if (got === 0) {
          if (rest !== '') onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest, ++n);
          return;
        }
      }
    } finally {
      closeSync(fd);
    }
  };
}

/** The lines of a string, as a LineSource. */
export function textLines(text: string): LineSource {
  return (onLine) => {
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
      if (onLine(line, i + 1) === false) return;
    }
  };
}
