import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { keyString } from '../metrics/revisionKey.js';
import { clientAddress, clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { RequestRouter } from './router.js';
import { type Endpoint, type Target, Waiter } from './target.js';

export interface ProxyOptions {
  router: RequestRouter;
  clock: Clock;
  logger: Logger;
  /** How long a request may wait for an endpoint before it gets 504 (Knative's 300 s). */
  holdTimeoutMs: number;
  /** How long an upstream may take to send response headers before the client gets 504 (Knative's revision timeout, 300 s). */
  upstreamTimeoutMs: number;
  /** How long a connect to an endpoint may take (default 2 s): then it counts as failed and an idempotent request is retried. */
  connectTimeoutMs?: number;
  /** Connections to one endpoint when containerConcurrency is 0 (default 1,024; with a limit, that limit). */
  maxConnectionsPerEndpoint?: number;
  /** Sent Retry-After when a target's queue is full (default 1 s). */
  retryAfterSeconds?: number;
  /** The first request after an idle period: report it now (Knative's scale-from-zero poke). */
  onFirstRequest: (target: Target) => void;
  /** A connect to an endpoint failed: a static prober marks it down until it answers again. */
  onConnectFailure?: (target: Target, endpoint: Endpoint) => void;
  /** How long requests waited for an endpoint, per target (a histogram child). */
  holdSeconds: (target: Target) => { observe(seconds: number): void };
}

/** Methods RFC 9110 calls idempotent: a failed attempt may be sent again. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Attempts per request, the first one included, when connects to endpoints fail. */
const MAX_ATTEMPTS = 3;

type Failure = 'connect-refused' | 'connect-timeout' | 'reset' | 'timeout' | 'bad-response' | 'error';

function classify(err: Error & { code?: string }): Failure {
  switch (err.code) {
    case 'ECONNREFUSED': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'EADDRNOTAVAIL': return 'connect-refused';
    case 'UND_ERR_CONNECT_TIMEOUT': return 'connect-timeout';
    case 'ECONNRESET': case 'EPIPE': case 'UND_ERR_SOCKET': case 'UND_ERR_CLOSED': return 'reset';
    case 'UND_ERR_HEADERS_TIMEOUT': return 'timeout';
    default: return err.code?.startsWith('HPE_') || err.name === 'HTTPParserError' || err.code === 'UND_ERR_INFO' ? 'bad-response' : 'error';
  }
}

/** A connect that failed: nothing reached the upstream, and the endpoint itself may be gone. */
function isConnectFailure(f: Failure): boolean {
  return f === 'connect-refused' || f === 'connect-timeout';
}

/** The headers to send upstream for `req`, X-Forwarded-* from this hop; `upgrade` keeps the handshake. */
function forwardedHeaders(req: IncomingMessage, upgrade?: string): string[] {
  return upstreamRequestHeaders(req.rawHeaders, req.headers.connection, { client: clientAddress(req.socket.remoteAddress), host: req.headers.host ?? '' }, upgrade);
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A request-target as the upstream wants it (origin form): absolute-form proxy requests are rewritten. */
function originForm(url: string): string {
  if (url.charCodeAt(0) === 47 /* '/' */ || url === '*') return url;
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  } catch {
    return url;
  }
}

/** A quoted, bounded rendering of something a client sent, for error bodies and logs. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

/**
 * The activator's HTTP/1.1 reverse proxy: routes by Host (and path prefix),
 * holds requests while their target has no endpoint with a free slot,
 * forwards them over bounded keep-alive pools (undici), streams bodies both
 * ways, passes websocket upgrades through as raw TCP, and counts every
 * request into its target's load.
 */
export class ActivatorProxy {
  readonly server: Server;
  /** Requests and upgraded connections in flight (held ones included). */
  active = 0;
  /** Requests for a host no route names (not labelled by host: that is the client's choice, unbounded). */
  unrouted = 0;
  draining = false;
  private readonly pools = new Map<Endpoint, { pool: Pool; connections: number }>();
  private readonly upgraded = new Set<Duplex>();
  private idleWaiters: (() => void)[] = [];

  constructor(readonly o: ProxyOptions) {
    this.server = createServer({
      // Slowloris: a request's headers must arrive within 15 s. No whole-request timeout: a held
      // request's body is not read until it is forwarded, and a large upload may take long.
      headersTimeout: 15_000,
      requestTimeout: 0,
      keepAliveTimeout: 65_000,
      connectionsCheckingInterval: 5_000,
    }, (req, res) => this.request(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      endRaw(socket, rawResponse(status, `${STATUS_CODES[status]}\n`));
    });
  }

  /**
   * The upstream pool of an endpoint, made on first use, and made again when
   * the target's limit changed (a pool sized to the old limit would queue
   * requests inside undici, out of reach of the hold timeout).
   */
  pool(target: Target, endpoint: Endpoint): Pool {
    const cc = target.spec.containerConcurrency;
    const connections = cc > 0 ? cc : this.o.maxConnectionsPerEndpoint ?? 1024;
    const existing = this.pools.get(endpoint);
    if (existing && existing.connections === connections) return existing.pool;
    if (existing) void existing.pool.close().catch(() => undefined); // its requests in flight finish first
    const pool = new Pool(`http://${endpoint.id}`, {
      connections,
      pipelining: 1,
      headersTimeout: this.o.upstreamTimeoutMs,
      // Server-sent events and long polls may be quiet for long; the client's own disconnect ends them.
      bodyTimeout: 0,
      connect: { timeout: this.o.connectTimeoutMs ?? 2000 },
    });
    this.pools.set(endpoint, { pool, connections });
    return pool;
  }

  /** Endpoints that left their target: their connections close once the requests on them are done. */
  retire(endpoints: readonly Endpoint[]): void {
    for (const e of endpoints) {
      const entry = this.pools.get(e);
      if (!entry) continue;
      this.pools.delete(e);
      void entry.pool.close().catch(() => undefined);
    }
  }

  begin(target: Target): void {
    this.active++;
    if (target.arrive(this.o.clock.now())) this.o.onFirstRequest(target);
  }

  end(target: Target): void {
    target.depart(this.o.clock.now());
    if (--this.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    const host = req.headers.host;
    if (host === undefined || host === '') return void respond(res, 400, 'a Host header is required: the activator routes by it\n');
    const target = this.o.router.match(host, req.url ?? '/');
    if (!target) {
      this.unrouted++;
      return void respond(res, 404, `no route for host ${quoted(host)}${req.url && req.url !== '/' ? ` and path ${quoted(req.url.split('?')[0])}` : ''}\n`);
    }
    if (this.draining) res.setHeader('connection', 'close');
    new Exchange(this, target, req, res).start();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const host = req.headers.host;
    const target = host ? this.o.router.match(host, req.url ?? '/') : undefined;
    if (!target) {
      if (host) this.unrouted++;
      endRaw(socket, rawResponse(host ? 404 : 400, host ? `no route for host ${quoted(host)}\n` : 'a Host header is required\n'));
      return;
    }
    if (this.draining) return void endRaw(socket, rawResponse(503, 'the activator is shutting down\n'));
    new UpgradeExchange(this, target, req, socket, head).start();
  }

  /** Answers every request waiting for the target with 503 (shutdown, or the target is no longer routed). */
  refuseWaiting(target: Target, message: string): void {
    for (const w of target.drainQueue()) w.refuse(503, message);
  }

  track(socket: Duplex): void {
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking connections; in-flight requests finish until the deadline, then everything is cut. */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([this.idle(), deadline]);
    clearTimeout(timer);
    // What is still waiting for an endpoint gets a clear answer rather than a cut connection.
    for (const target of this.o.router.all()) this.refuseWaiting(target, 'the activator is shutting down\n');
    for (const s of this.upgraded) s.destroy();
    this.server.closeAllConnections();
    await closed;
    await Promise.all([...this.pools.values()].map((p) => p.pool.destroy().catch(() => undefined)));
    this.pools.clear();
  }
}

/**
 * Writes a last response on a raw socket and closes it once written, even
 * if the peer never reads or never closes its side (a plain end() would leave
 * the socket half-open for as long as a hostile client likes).
 */
function endRaw(socket: Duplex, response: string): void {
  socket.end(response);
  socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}

function rawResponse(status: number, body: string, extra = ''): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`;
}

function respond(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers }).end(body);
}

/**
 * What every request through the activator does before it has an
 * endpoint: take a free slot, or wait for one in its target's queue (up to
 * the queue limit and the hold timeout), and after a failed attempt try
 * again, ahead of later arrivals, elsewhere if it can.
 */
abstract class HeldRequest {
  protected endpoint: Endpoint | null = null;
  protected attempts = 0;
  private tried: Set<Endpoint> | null = null;
  private waiter: Waiter | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  protected readonly arrivedAt: number;

  constructor(protected readonly proxy: ActivatorProxy, protected readonly target: Target) {
    this.arrivedAt = proxy.o.clock.now();
  }

  /** Sends the request to the endpoint whose slot it holds (after take()). */
  protected abstract forward(endpoint: Endpoint): void;

  /** An attempt on `endpoint` begins: the request holds its slot. */
  protected take(endpoint: Endpoint): void {
    this.endpoint = endpoint;
    this.attempts++;
  }
  /** Answers without an upstream (503, 504, 502); `retryAfter` seconds go in a Retry-After header. */
  protected abstract refuse(status: number, body: string, retryAfter?: number): void;

  protected acquireOrHold(front: boolean): void {
    const endpoint = this.target.acquire(this.tried ?? undefined);
    if (endpoint) return this.forward(endpoint);
    const waiter = new Waiter((e) => {
      this.stopHolding();
      this.forward(e);
    }, (status, message) => {
      this.stopHolding();
      this.refuse(status, message);
    }, this.proxy.o.clock.now());
    if (!this.target.hold(waiter, front)) {
      return this.refuse(503, `${keyString(this.target.key)} has ${this.target.held} requests waiting already, the most it holds\n`, this.proxy.o.retryAfterSeconds ?? 1);
    }
    this.waiter = waiter;
    // A retry waits only what is left of the request's hold timeout.
    const waited = (this.proxy.o.clock.now() - this.arrivedAt) * 1000;
    this.holdTimer = setTimeout(() => {
      this.target.cancel(waiter);
      this.stopHolding();
      this.refuse(504, `no endpoint of ${keyString(this.target.key)} became available within ${this.proxy.o.holdTimeoutMs / 1000} s\n`);
    }, Math.max(0, this.proxy.o.holdTimeoutMs - waited));
  }

  /**
   * After a failed attempt on `failed`: true when the request goes again (at
   * the head of the queue). A refused or timed-out connect sent nothing, so it
   * does not use up the attempts while untried endpoints remain: after a large
   * scale-down a request may meet several stopped pods before their
   * EndpointSlice (or the prober) says so.
   */
  protected retry(failed: Endpoint, nothingSent = false): boolean {
    const limit = nothingSent ? Math.max(MAX_ATTEMPTS, this.target.endpointCount + 1) : MAX_ATTEMPTS;
    if (this.attempts >= limit) return false;
    (this.tried ??= new Set()).add(failed);
    this.acquireOrHold(true);
    return true;
  }

  /** The client went away while the request waited: it leaves the queue. */
  protected stopWaiting(): void {
    if (this.waiter) this.target.cancel(this.waiter);
    this.waiter = null;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
  }

  private stopHolding(): void {
    this.waiter = null;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.proxy.o.holdSeconds(this.target).observe(this.proxy.o.clock.now() - this.arrivedAt);
  }
}

/**
 * One proxied request, from arrival to its response's end: holding, the
 * upstream attempt(s), streaming. It is its own undici handler, so a request
 * costs one object rather than a bundle of closures.
 */
class Exchange extends HeldRequest implements Dispatcher.DispatchHandlers {
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private clientGone = false;
  private readonly withBody: boolean;

  constructor(proxy: ActivatorProxy, target: Target, private readonly req: IncomingMessage, private readonly res: ServerResponse) {
    super(proxy, target);
    this.withBody = hasBody(req);
  }

  start(): void {
    this.proxy.begin(this.target);
    this.res.once('close', () => this.closed());
    this.acquireOrHold(false);
  }

  protected forward(endpoint: Endpoint): void {
    this.take(endpoint);
    const req = this.req;
    const headers = forwardedHeaders(req);
    this.proxy.pool(this.target, endpoint).dispatch({
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      path: originForm(req.url ?? '/'),
      headers,
      body: this.withBody ? req : null,
    }, this);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(new Error('client went away'));
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx: the activator's server answers Expect itself
    this.resume = resume;
    const headers = clientResponseHeaders(raw);
    if (this.proxy.draining) headers.push('connection', 'close');
    this.res.writeHead(status, headers);
    this.target.countResponse(status);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resume!);
    return false;
  }

  onComplete(): void {
    this.releaseEndpoint();
    this.res.end();
  }

  onError(err: Error & { code?: string }): void {
    const endpoint = this.endpoint;
    this.releaseEndpoint();
    if (this.clientGone) return;
    const failure = classify(err);
    this.target.countUpstreamError(failure);
    if (endpoint && isConnectFailure(failure)) this.proxy.o.onConnectFailure?.(this.target, endpoint);
    if (this.res.headersSent) {
      // Mid-body: the client must see a truncated response, not a complete-looking one.
      this.res.destroy(err);
      return;
    }
    const retryable = isConnectFailure(failure) || failure === 'reset';
    if (retryable && endpoint && !this.withBody && IDEMPOTENT.has(this.req.method ?? '') && this.retry(endpoint, isConnectFailure(failure))) return;
    this.proxy.o.logger.debug({ namespace: this.target.key.namespace, revision: this.target.key.name, endpoint: endpoint?.id, err: err.message, failure }, 'upstream request failed');
    if (failure === 'timeout') return this.refuse(504, `${keyString(this.target.key)} sent no response headers within ${this.proxy.o.upstreamTimeoutMs / 1000} s\n`);
    this.refuse(502, `the upstream request to ${keyString(this.target.key)} failed (${failure})\n`);
  }

  private releaseEndpoint(): void {
    const e = this.endpoint;
    if (!e) return;
    this.endpoint = null;
    this.abortUpstream = null;
    this.target.release(e);
  }

  protected refuse(status: number, body: string, retryAfter?: number): void {
    this.target.countResponse(status);
    const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
    if (this.proxy.draining) headers.connection = 'close';
    respond(this.res, status, body, headers);
  }

  /** The response is done, or the client went away first: either way the request leaves the target's load. */
  private closed(): void {
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.stopWaiting();
      // A client abort reaches the upstream: its request is cancelled too (onError then releases the endpoint).
      const abort = this.abortUpstream;
      if (abort) abort(new Error('client went away'));
    }
    this.proxy.end(this.target);
  }
}

/**
 * A websocket (or any Upgrade) request: held like any other, then passed
 * through as raw TCP from the handshake on, so whatever the upstream answers
 * (101 or a refusal) reaches the client unchanged. The connection counts as
 * one request in flight for as long as it is open, as queue-proxy counts it.
 */
class UpgradeExchange extends HeldRequest {
  private upstream: Socket | null = null;
  private done = false;
  private connected = false;

  constructor(proxy: ActivatorProxy, target: Target, private readonly req: IncomingMessage, private readonly socket: Duplex, private readonly head: Buffer) {
    super(proxy, target);
  }

  start(): void {
    this.proxy.begin(this.target);
    this.proxy.track(this.socket);
    this.socket.once('close', () => this.finish());
    this.acquireOrHold(false);
  }

  protected forward(endpoint: Endpoint): void {
    if (this.done) return void this.target.release(endpoint);
    this.take(endpoint);
    const req = this.req;
    const headers = forwardedHeaders(req, req.headers.upgrade ?? 'websocket');
    let head = `${req.method} ${originForm(req.url ?? '/')} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    const up = netConnect({ host: endpoint.host, port: endpoint.port, timeout: this.proxy.o.connectTimeoutMs ?? 2000 });
    this.upstream = up;
    up.once('timeout', () => up.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })));
    up.once('connect', () => {
      this.connected = true;
      up.setTimeout(0);
      up.write(`${head}\r\n`);
      if (this.head.length > 0) up.write(this.head);
      this.target.countResponse(101);
      up.pipe(this.socket);
      this.socket.pipe(up);
    });
    up.once('error', (err: NodeJS.ErrnoException) => this.upstreamFailed(endpoint, err));
    up.once('close', () => {
      if (this.connected) this.socket.destroy();
    });
  }

  private upstreamFailed(endpoint: Endpoint, err: NodeJS.ErrnoException): void {
    if (this.endpoint === endpoint) {
      this.endpoint = null;
      this.target.release(endpoint);
    }
    if (this.done) return;
    const failure = classify(err);
    this.target.countUpstreamError(failure);
    if (this.connected) return void this.socket.destroy();
    if (isConnectFailure(failure)) this.proxy.o.onConnectFailure?.(this.target, endpoint);
    // Nothing reached the upstream yet (the handshake is sent once connected): any failure may go again.
    if (failure !== 'error' && this.retry(endpoint, isConnectFailure(failure))) return;
    this.refuse(502, `the upstream connection to ${keyString(this.target.key)} failed (${failure})\n`);
  }

  protected refuse(status: number, body: string, retryAfter?: number): void {
    this.target.countResponse(status);
    endRaw(this.socket, rawResponse(status, body, retryAfter === undefined ? '' : `retry-after: ${retryAfter}\r\n`));
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.stopWaiting();
    this.upstream?.destroy();
    if (this.endpoint) {
      this.target.release(this.endpoint);
      this.endpoint = null;
    }
    this.proxy.end(this.target);
  }
}
