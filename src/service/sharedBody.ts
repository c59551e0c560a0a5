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
 * Caches bodies per epoch of the service's read view, one per key (a query:
 * the first page, a search). Hundreds of concurrent readers of the same page
 * cost one build and one compression; those that accept gzip (Prometheus,
 * browsers, fetch) then get a tenth of the bytes to send.
 */
export class SharedBodyCache {
  private epoch = NaN;
  private readonly bodies = new Map<string, SharedBody>();

  /** At most this many bodies per epoch: each distinct query adds one. */
  constructor(private readonly maxBodies = 64) {}

  get(epoch: number, key: string, build: () => string): SharedBody {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.bodies.clear();
    }
    let body = this.bodies.get(key);
    if (!body) {
      if (this.bodies.size >= this.maxBodies) this.bodies.clear();
      body = sharedBody(build());
      this.bodies.set(key, body);
    }
    return body;
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
