import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { type DecodedFrame, decodeBinaryFrame, decodeJsonFrame, type RevisionStat, StatDecodeError } from './wireStats.js';

/** Knative's statserver close code: tells the activator to reconnect (to the new leader). */
export const CLOSE_SERVICE_RESTART = 1012;
/** Frames above this are refused by closing the connection with 1009 (message too big). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

export interface StatServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  logger: Logger;
  /** Receives each frame's valid stats as they arrive; the caller stamps them with its clock. */
  onStats: (stats: RevisionStat[]) => void;
  maxFrameBytes?: number;
}

/** Running totals, exported by the service as Prometheus counters. */
export interface StatServerCounters {
  frames: number;
  stats: number;
  decodeErrors: number;
  connectionsOpened: number;
  connectionsOpen: number;
}

/** kubelet probes carry this header or user agent (knative.dev/networking's IsKubeletProbe). */
function isKubeletProbe(req: IncomingMessage): boolean {
  return req.headers['k-kubelet-probe'] !== undefined || (req.headers['user-agent'] ?? '').startsWith('kube-probe/');
}

/**
 * The activator's side of Knative's stat protocol (pkg/autoscaler/statserver):
 * a websocket server whose binary frames are protobuf `WireStatMessages` (text
 * frames: the same as JSON). A frame that does not decode is logged and
 * dropped; the connection stays open. kubelet probes on the same port get 200.
 */
export class StatServer {
  readonly counters: StatServerCounters = { frames: 0, stats: 0, decodeErrors: 0, connectionsOpened: 0, connectionsOpen: 0 };
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly logger: Logger;
  private readonly onStats: (stats: RevisionStat[]) => void;
  /** Decode errors are logged at most once per second, with how many were suppressed. */
  private lastErrorLogAt = 0;
  private suppressedErrors = 0;

  private constructor(options: StatServerOptions) {
    this.logger = options.logger;
    this.onStats = options.onStats;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
    this.http = createServer((req, res) => {
      if (isKubeletProbe(req)) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' })
        .end('the stats endpoint speaks websocket (Knative WireStatMessages)\n');
    });
    this.http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
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

  private accept(ws: WebSocket): void {
    this.counters.connectionsOpened++;
    this.counters.connectionsOpen++;
    ws.on('message', (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    // ws closes with 1009 on its own when a frame exceeds maxPayload; errors end only this connection.
    ws.on('error', (err) => this.logger.debug({ err: err.message }, 'stats connection error'));
    ws.on('close', () => {
      this.counters.connectionsOpen--;
    });
  }

  private receive(data: RawData, isBinary: boolean): void {
    this.counters.frames++;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    let frame: DecodedFrame;
    try {
      frame = isBinary ? decodeBinaryFrame(bytes) : decodeJsonFrame(bytes.toString('utf8'));
    } catch (err) {
      if (!(err instanceof StatDecodeError)) throw err;
      this.decodeError(err, bytes.length);
      return;
    }
    for (const rejected of frame.rejected) this.decodeError(rejected, bytes.length);
    if (frame.stats.length === 0) return;
    this.counters.stats += frame.stats.length;
    this.onStats(frame.stats);
  }

  private decodeError(err: StatDecodeError, frameBytes: number): void {
    this.counters.decodeErrors++;
    const now = Date.now(); // adapter code: only paces logging
    if (now - this.lastErrorLogAt < 1000) {
      this.suppressedErrors++;
      return;
    }
    this.logger.warn({ field: err.field, frameBytes, suppressed: this.suppressedErrors }, `dropped stats: ${err.message}`);
    this.lastErrorLogAt = now;
    this.suppressedErrors = 0;
  }

  /** Closes every client with 1012 (service restart, as Knative) and frees the port. */
  async close(): Promise<void> {
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
