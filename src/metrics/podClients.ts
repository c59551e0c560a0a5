import { Client, type Dispatcher } from 'undici';

/** What one pod answered: its status, content type (without parameters) and whole body. */
export interface PodResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/** Why a pod's exchange failed: no answer in time, a body past the cap, or the connection's own error. */
export type PodFailure =
  | { readonly kind: 'timeout' }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'connection'; readonly message: string };

export class PodRequestError extends Error {
  constructor(readonly failure: PodFailure, message: string) {
    super(message);
    this.name = 'PodRequestError';
  }
}

export interface PodGetOptions {
  /** Covers the whole exchange: waiting for the connection, the headers and every byte of the body. */
  timeoutMs: number;
  /** Bodies past it (declared in Content-Length or streamed) fail the exchange and close the connection. */
  maxBodyBytes: number;
  /** Request headers as undici's flat [name, value, …] list, shared by every request. */
  headers: readonly string[];
}

const CONTENT_TYPE = 'content-type';
const CONTENT_LENGTH = 'content-length';

/** A pod's connection: one undici Client (one keep-alive socket) and the path to GET on it. */
interface PodConnection {
  client: Client;
  path: string;
}

/**
 * One keep-alive connection per pod metrics URL, for the scraper.
 *
 * Node's fetch cost the scraper most of its CPU and memory (WHATWG streams,
 * Headers, Response and an AbortSignal timer per request): 3,000 pods a
 * second took a whole core. A bare undici Client per pod, driven through its
 * dispatcher handler, costs about a fifth of that, and holds one socket per
 * pod, which is all a scrape a second needs (a revision's next scrape waits
 * for the last one, so a pod never has two requests of its own revision).
 *
 * Keyed by URL rather than origin: a pod is its URL in kpa's model, and pods
 * served behind one origin (a test server, a targets file pointing at one
 * exporter) must not queue behind each other's hung requests.
 *
 * `retain` closes the connections of pods no revision has any more, so a
 * cluster that churns pods does not keep their sockets open.
 */
export class PodClients {
  private readonly connections = new Map<string, PodConnection>();
  private closed = false;

  /** How many pods have a connection (open or opening). */
  get size(): number {
    return this.connections.size;
  }

  private connection(url: string): PodConnection {
    let c = this.connections.get(url);
    if (!c) {
      const parsed = new URL(url);
      c = {
        // One socket per pod; undici's own header and body timers are left far out, the exchange's deadline below governs.
        client: new Client(parsed.origin, { pipelining: 1 }),
        path: `${parsed.pathname}${parsed.search}`,
      };
      this.connections.set(url, c);
    }
    return c;
  }

  /** GETs `url` on its pod's connection. Rejects with PodRequestError; never throws synchronously. */
  get(url: string, options: PodGetOptions): Promise<PodResponse> {
    let connection: PodConnection;
    try {
      if (this.closed) throw new Error('the scraper is closed');
      connection = this.connection(url);
    } catch (err) {
      return Promise.reject(new PodRequestError({ kind: 'connection', message: (err as Error).message }, (err as Error).message));
    }
    return new Promise<PodResponse>((resolve, reject) => {
      let settled = false;
      let abort: ((err?: Error) => void) | null = null;
      let status = 0;
      let contentType = '';
      const chunks: Buffer[] = [];
      let size = 0;
      const fail = (failure: PodFailure, message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        const err = new PodRequestError(failure, message);
        reject(err);
        // Ends the exchange on the socket too: a hung pod's connection is closed, not left to answer later.
        abort?.(err);
      };
      const tooLarge = () => fail({ kind: 'too-large' }, `response body larger than ${options.maxBodyBytes} bytes`);
      const deadline = setTimeout(() => fail({ kind: 'timeout' }, `no answer within ${options.timeoutMs} ms`), options.timeoutMs);
      const handler: Dispatcher.DispatchHandlers = {
        onConnect(abortRequest) {
          // Timed out before it was sent (the connection was still opening, or busy with an earlier
          // request): undici drops a request whose onConnect throws and keeps the connection, which is
          // healthy, for the next scrape. Aborting would close it, and a pod slow to accept would then
          // have to connect anew every second, each time too late.
          if (settled) throw new Error('timed out before it was sent');
          abort = abortRequest;
        },
        onHeaders(statusCode, rawHeaders) {
          if (settled) return false;
          status = statusCode;
          for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
            const name = rawHeaders[i].toString('latin1').toLowerCase();
            if (name === CONTENT_TYPE) contentType = rawHeaders[i + 1].toString('latin1').split(';')[0].trim();
            else if (name === CONTENT_LENGTH && Number(rawHeaders[i + 1].toString('latin1')) > options.maxBodyBytes) {
              tooLarge();
              return false;
            }
          }
          return true;
        },
        onData(chunk) {
          if (settled) return false;
          size += chunk.byteLength;
          if (size > options.maxBodyBytes) {
            tooLarge();
            return false;
          }
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          resolve({ status, contentType, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
        },
        onError(err) {
          fail({ kind: 'connection', message: err.message }, err.message);
        },
      };
      try {
        connection.client.dispatch({ method: 'GET', path: connection.path, headers: options.headers as string[] }, handler);
      } catch (err) {
        fail({ kind: 'connection', message: (err as Error).message }, (err as Error).message);
      }
    });
  }

  /**
   * Closes the connection of every pod whose URL is not in `urls`. A request
   * still open on one ends first (close is graceful; its deadline bounds it).
   */
  retain(urls: ReadonlySet<string>): void {
    for (const [url, c] of this.connections) {
      if (urls.has(url)) continue;
      this.connections.delete(url);
      void c.client.close().catch(() => undefined);
    }
  }

  /** Closes every connection; requests made afterwards fail. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.client.destroy().catch(() => undefined)));
  }
}
