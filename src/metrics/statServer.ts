import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { describeRejection, type StatRejection, type StatRejectReason } from './stat.js';
import {
  DEFAULT_DECODE_LIMITS, type DecodeLimits, isRejection, openBinaryFrame, openJsonFrame, type PendingFrame, type RevisionStat,
} from './wireStats.js';

/** Knative's statserver close code: tells the activator to reconnect (to the new leader). */
export const CLOSE_SERVICE_RESTART = 1012;
/** Set by a kpa replica forwarding stats to a revision's owner: such stats are never forwarded again. */
export const FORWARDED_BY_HEADER = 'x-kpa-forwarded-by';
/** Frames above this are refused by closing the connection with 1009 (message too big). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

export interface StatServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  logger: Logger;
  /**
   * Receives the valid stats of each slice of decoding; the caller stamps them
   * with its clock. `forwarded`: they came from another kpa replica's
   * forwarder (FORWARDED_BY_HEADER), not from an activator.
   */
  onStats: (stats: RevisionStat[], forwarded: boolean) => void;
  maxFrameBytes?: number;
  /** Value bounds and the messages-per-frame cap. */
  limits?: DecodeLimits;
  /** How long one turn of the event loop may spend decoding before it yields (ms). */
  sliceMs?: number;
  /** Frame bytes waiting to be decoded past which every stats socket is paused until the queue halves. */
  maxQueuedBytes?: number;
  /**
   * Whether an upgrade request may connect (the stats token); refused ones get
   * 401 before any frame is read. Absent: everyone may, as with Knative's stat server.
   */
  authorize?: (req: IncomingMessage) => boolean;
}

/** Running totals, exported by the service as Prometheus counters. */
export interface StatServerCounters {
  frames: number;
  stats: number;
  /** Stats and frames refused, by reason (a refused frame counts once, whatever it held). */
  rejected: Record<StatRejectReason, number>;
  connectionsOpened: number;
  connectionsOpen: number;
  /** Times the sockets were paused because decoding fell behind. */
  pauses: number;
  /** Connections refused for a missing or wrong token. */
  unauthorized: number;
}

/** A turn's decoding budget: far inside the tick's 100 ms tolerance, long enough that most frames decode where they arrive. */
export const DEFAULT_SLICE_MS = 10;
/**
 * Pause early: a frame waiting in the JS heap outlives young collections and
 * costs the old generation (with 1 MiB of backlog ingest cost 1.5–2× the CPU
 * per stat); one waiting in the kernel's socket buffer costs nothing.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024;
/** Messages decoded between two looks at the time. */
const MESSAGES_PER_CHECK = 256;

export function emptyRejectCounts(): Record<StatRejectReason, number> {
  return { 'not-finite': 0, negative: 0, 'above-bound': 0, 'missing-field': 0, malformed: 0, 'too-many-messages': 0 };
}

/** kubelet probes carry this header or user agent (knative.dev/networking's IsKubeletProbe). */
function isKubeletProbe(req: IncomingMessage): boolean {
  return req.headers['k-kubelet-probe'] !== undefined || (req.headers['user-agent'] ?? '').startsWith('kube-probe/');
}

interface QueuedFrame {
  data: Buffer;
  isBinary: boolean;
  forwarded: boolean;
  /** Opened on its turn: the messages, and the next one to decode. */
  pending: PendingFrame | null;
  next: number;
}

/**
 * The activator's side of Knative's stat protocol (pkg/autoscaler/statserver):
 * a websocket server whose binary frames are protobuf `WireStatMessages` (text
 * frames: the same as JSON). kubelet probes on the same port get 200.
 *
 * Frames are decoded where they arrive while the turn of the event loop has
 * `sliceMs` of budget left; the rest wait for later turns, a slice each, so
 * ticks, scrapes and HTTP keep their deadlines whatever arrives. When
 * `maxQueuedBytes` are waiting the sockets are paused (TCP pushes back on the
 * activators) instead of memory growing. A
 * bad message is counted by reason and dropped, the rest of its frame kept; a
 * frame that is not protobuf or JSON, or holds more than the messages cap, is
 * dropped whole. The connection stays open in both cases.
 */
export class StatServer {
  readonly counters: StatServerCounters = {
    frames: 0, stats: 0, rejected: emptyRejectCounts(), connectionsOpened: 0, connectionsOpen: 0, pauses: 0, unauthorized: 0,
  };
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly logger: Logger;
  private readonly onStats: (stats: RevisionStat[], forwarded: boolean) => void;
  private readonly limits: DecodeLimits;
  private readonly sliceMs: number;
  private readonly maxQueuedBytes: number;
  private readonly queue: QueuedFrame[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private paused = false;
  private draining: NodeJS.Immediate | null = null;
  /** When this turn of the event loop's decoding budget runs out; null until a frame arrives in it. */
  private turnEnds: number | null = null;
  private closed = false;
  /** Refusals are logged at most once per second, with how many were not logged. */
  private lastRejectLogAt = 0;
  private unloggedRejects = 0;
  private lastUnauthorizedLogAt = 0;

  private constructor(options: StatServerOptions) {
    this.logger = options.logger;
    this.onStats = options.onStats;
    this.limits = options.limits ?? DEFAULT_DECODE_LIMITS;
    this.sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
    this.http = createServer((req, res) => {
      if (isKubeletProbe(req)) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
        .end('the stats endpoint speaks websocket (Knative WireStatMessages)\n');
    });
    const authorize = options.authorize;
    this.http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      if (authorize && !authorize(req)) {
        this.counters.unauthorized++;
        this.logUnauthorized(req);
        socket.end('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="kpa-stats"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req.headers[FORWARDED_BY_HEADER] !== undefined));
    });
  }

  static async start(options: StatServerOptions): Promise<StatServer> {
    const server = new StatServer(options);
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(options.port, options.host ?? '0.0.0.0', () => {
        server.http.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** Frame bytes received and not yet decoded. */
  get backlogBytes(): number {
    return this.queuedBytes;
  }

  private accept(ws: WebSocket, forwarded: boolean): void {
    this.counters.connectionsOpened++;
    this.counters.connectionsOpen++;
    if (this.paused) ws.pause();
    ws.on('message', (data: RawData, isBinary: boolean) => this.enqueue(data, isBinary, forwarded));
    // ws closes with 1009 on its own when a frame exceeds maxPayload; errors end only this connection.
    ws.on('error', (err) => this.logger.debug({ err: err.message }, 'stats connection error'));
    ws.on('close', () => {
      this.counters.connectionsOpen--;
    });
  }

  private enqueue(data: RawData, isBinary: boolean, forwarded: boolean): void {
    if (this.closed) return;
    this.counters.frames++;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.queue.push({ data: bytes, isBinary, forwarded, pending: null, next: 0 });
    this.queuedBytes += bytes.length;
    if (this.draining === null) {
      // Decode at once while this turn of the event loop has budget left: a frame handled
      // where it arrives is cheapest (short-lived buffers; TCP pushes back by itself).
      const now = performance.now();
      if (this.turnEnds === null) {
        this.turnEnds = now + this.sliceMs;
        setImmediate(() => {
          this.turnEnds = null;
        });
      }
      if (now < this.turnEnds) this.work(this.turnEnds);
      if (this.queueHead < this.queue.length) this.draining = setImmediate(() => this.drain());
    }
    if (!this.paused && this.queuedBytes > this.maxQueuedBytes) {
      this.paused = true;
      this.counters.pauses++;
      for (const client of this.wss.clients) client.pause();
    }
  }

  /** A later turn's slice, for what the arrival turn had no time left for. */
  private drain(): void {
    this.draining = null;
    if (this.closed) return;
    this.work(performance.now() + this.sliceMs);
    if (this.queueHead < this.queue.length) this.draining = setImmediate(() => this.drain());
  }

  /** Decodes until the queue is empty or `deadline`, then hands over what was accepted. */
  private work(deadline: number): void {
    const accepted: RevisionStat[] = [];
    const acceptedForwarded: RevisionStat[] = [];
    // At least one group of messages per call, however short the slice.
    while (this.queueHead < this.queue.length) {
      const frame = this.queue[this.queueHead];
      if (frame.pending === null) {
        const opened = frame.isBinary ? openBinaryFrame(frame.data, this.limits) : openJsonFrame(frame.data.toString('utf8'), this.limits);
        if ('reason' in opened) {
          this.reject(opened, frame.data.length);
          this.finishFrame();
          if (performance.now() >= deadline) break;
          continue;
        }
        frame.pending = opened;
      }
      const pending = frame.pending;
      const into = frame.forwarded ? acceptedForwarded : accepted;
      const end = Math.min(pending.count, frame.next + MESSAGES_PER_CHECK);
      for (let i = frame.next; i < end; i++) {
        const m = pending.decode(i);
        if (isRejection(m)) this.reject(m, frame.data.length);
        else into.push(m);
      }
      frame.next = end;
      if (end === pending.count) this.finishFrame();
      if (performance.now() >= deadline) break;
    }
    if (accepted.length > 0) {
      this.counters.stats += accepted.length;
      this.onStats(accepted, false);
    }
    if (acceptedForwarded.length > 0) {
      this.counters.stats += acceptedForwarded.length;
      this.onStats(acceptedForwarded, true);
    }
  }

  private finishFrame(): void {
    const frame = this.queue[this.queueHead];
    this.queuedBytes -= frame.data.length;
    this.queue[this.queueHead++] = undefined as unknown as QueuedFrame;
    // Compact now and then rather than shift() on every frame.
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.paused && this.queuedBytes <= this.maxQueuedBytes / 2) {
      this.paused = false;
      for (const client of this.wss.clients) client.resume();
    }
  }

  private reject(r: StatRejection, frameBytes: number): void {
    this.counters.rejected[r.reason]++;
    const now = Date.now(); // adapter code: only paces logging
    if (now - this.lastRejectLogAt < 1000) {
      this.unloggedRejects++;
      return;
    }
    this.logger.warn({ reason: r.reason, field: r.field, frameBytes, notLogged: this.unloggedRejects },
      `dropped stats: ${describeRejection(r, this.limits.bounds)}`);
    this.lastRejectLogAt = now;
    this.unloggedRejects = 0;
  }

  /** A refused connection, logged at most once a minute (a misconfigured activator retries every few seconds). */
  private logUnauthorized(req: IncomingMessage): void {
    const now = Date.now(); // adapter code: only paces logging
    if (now - this.lastUnauthorizedLogAt < 60_000) return;
    this.lastUnauthorizedLogAt = now;
    this.logger.warn({ remoteAddress: req.socket.remoteAddress, refusedSoFar: this.counters.unauthorized },
      req.headers.authorization ? 'refused a stats connection: wrong token' : 'refused a stats connection: no token (--stats-token-file is set)');
  }

  /** Closes every client with 1012 (service restart, as Knative) and frees the port; undecoded frames are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.draining) clearImmediate(this.draining);
    this.queue.length = 0;
    this.queuedBytes = 0;
    for (const ws of this.wss.clients) ws.close(CLOSE_SERVICE_RESTART, 'Restarting');
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    // Clients that do not answer the close handshake are cut after a second.
    const deadline = setTimeout(() => {
      for (const ws of this.wss.clients) ws.terminate();
    }, 1000);
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await closed;
    clearTimeout(deadline);
  }
}
