import WebSocket from 'ws';
import { CLOSE_SERVICE_RESTART } from './statServer.js';
import { encodeBinaryFrame, encodeJsonFrame, type RevisionStat } from './wireStats.js';

/**
 * The activator's side of the stat protocol: sends batches of stats to the
 * autoscaler's websocket as protobuf `WireStatMessages` (or JSON text frames),
 * on one connection opened once. Tests use it; `kpa activator` uses the
 * reconnecting StatSender below.
 */
export class StatClient {
  private constructor(private readonly ws: WebSocket) {}

  static connect(url: string, headers?: Record<string, string>): Promise<StatClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once('open', () => {
        ws.off('error', reject);
        ws.on('error', () => undefined); // a later failure surfaces as 'close'
        resolve(new StatClient(ws));
      });
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves with the close code the server sent (1012 on an autoscaler restart). */
  closed(): Promise<number> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
    return new Promise((resolve) => this.ws.once('close', (code: number) => resolve(code)));
  }

  send(stats: readonly RevisionStat[], format: 'protobuf' | 'json' = 'protobuf'): Promise<void> {
    return this.sendRaw(format === 'protobuf' ? encodeBinaryFrame(stats) : encodeJsonFrame(stats));
  }

  /** Sends a frame as is (tests use it for hostile input). */
  sendRaw(frame: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.send(frame, { binary: typeof frame !== 'string' }, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close(1000);
    return done;
  }
}

export interface StatSenderOptions {
  /** The autoscaler's stat server, e.g. ws://kpa.kpa-system:8080/. */
  url: string;
  /** Called on each state change (connected, or why not), for logs. */
  onState?: (state: { connected: boolean; reason?: string; retryInMs?: number }) => void;
  /** Frames are dropped rather than queued while more than this is unsent (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Reconnect backoff: first wait and cap, doubled per failure with jitter (default 100 ms … 5 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Sent with each websocket upgrade (the stats token): a function is asked again on every connect, so a rotated token is picked up. */
  headers?: Record<string, string> | (() => Record<string, string>);
}

/** Counters a sender keeps, exported by the activator as metrics. */
export interface StatSenderCounters {
  framesSent: number;
  statsSent: number;
  /** Stats not sent: not connected, or the connection was backed up. */
  statsDropped: number;
  connects: number;
}

/**
 * An activator's long-lived connection to kpa's stat server. It never
 * blocks the caller and never queues without bound: `send` either hands the
 * frame to the socket or drops it (a stat is worth nothing a few seconds
 * late: kpa buckets stats by when they arrive). A lost connection, or kpa's
 * 1012 on restart, is retried with capped exponential backoff and jitter.
 */
export class StatSender {
  readonly counters: StatSenderCounters = { framesSent: 0, statsSent: 0, statsDropped: 0, connects: 0 };
  private ws: WebSocket | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private readonly maxBufferedBytes: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly o: StatSenderOptions) {
    this.maxBufferedBytes = o.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.initialBackoffMs = o.initialBackoffMs ?? 100;
    this.maxBackoffMs = o.maxBackoffMs ?? 5000;
    this.connect();
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a batch as one binary frame; returns false (and counts the stats dropped) when it cannot. */
  send(stats: readonly RevisionStat[]): boolean {
    if (stats.length === 0) return true;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > this.maxBufferedBytes) {
      this.counters.statsDropped += stats.length;
      return false;
    }
    ws.send(encodeBinaryFrame(stats), { binary: true });
    this.counters.framesSent++;
    this.counters.statsSent += stats.length;
    return true;
  }

  private connect(): void {
    if (this.closed) return;
    const headers = typeof this.o.headers === 'function' ? this.o.headers() : this.o.headers;
    const ws = new WebSocket(this.o.url, { headers, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on('open', () => {
      this.failures = 0;
      this.counters.connects++;
      this.o.onState?.({ connected: true });
    });
    // 'error' is always followed by 'close'; the reason is reported there.
    let lastError: string | undefined;
    ws.on('error', (err) => {
      lastError = err.message;
    });
    ws.on('close', (code) => {
      if (this.ws === ws) this.ws = null;
      if (this.closed) return;
      // 1012: kpa restarts (a new leader, a rollout): reconnect at once, as Knative's activator does.
      const wait = code === CLOSE_SERVICE_RESTART ? this.initialBackoffMs : this.backoff();
      this.o.onState?.({ connected: false, reason: lastError ?? `closed with ${code}`, retryInMs: wait });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.connect();
      }, wait);
    });
  }

  private backoff(): number {
    const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** this.failures++);
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  /** Stops reconnecting and closes the connection (kpa sees a normal close). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000);
    const cut = setTimeout(() => ws.terminate(), 1000);
    await done;
    clearTimeout(cut);
  }
}
