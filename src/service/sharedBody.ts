import { promisify } from 'node:util';
import { gzip as gzipCallback, gzipSync } from 'node:zlib';

const gzip = promisify(gzipCallback);

/** A response body built once per change of the read view and shared by every reader, plain and gzipped. */
export interface SharedBody {
  readonly text: string;
  /** Compressed off the event loop (zlib's thread pool), once. */
  readonly gzip: Promise<Buffer>;
}

/** A body and its gzip, started now off the event loop. */
export function sharedBody(text: string): SharedBody {
  const body: SharedBody = { text, gzip: gzip(text) };
  body.gzip.catch(() => undefined); // a failure is the reader's to report
  return body;
}

/**
 * Caches one body per epoch of the service's read view. Hundreds of
 * concurrent readers of a megabyte of JSON cost one build and one
 * compression; those that accept gzip (Prometheus, browsers, fetch) then get
 * a tenth of the bytes to send.
 */
export class SharedBodyCache {
  private cached: { epoch: number; body: SharedBody } | null = null;

  get(epoch: number, build: () => string): SharedBody {
    if (this.cached?.epoch !== epoch) this.cached = { epoch, body: sharedBody(build()) };
    return this.cached.body;
  }
}

/** Whether an Accept-Encoding header allows gzip (not `gzip;q=0`). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : header ?? '';
  return value.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** A small body compressed on the spot (a gzip member, so it can lead a concatenated stream). */
export function gzipSmall(text: string): Buffer {
  return gzipSync(text, { level: 1 });
}
