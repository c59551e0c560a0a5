import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { type App, freePort, hello, send, startApp, startTestActivator, staticTarget } from '../helpers/activatorHarness.js';
import { until } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function app(handler?: Parameters<typeof startApp>[0]): Promise<App> {
  const a = await startApp(handler);
  cleanups.push(() => a.close());
  return a;
}

async function activator(...args: Parameters<typeof startTestActivator>) {
  const a = await startTestActivator(...args);
  cleanups.push(() => a.close(1000));
  return a;
}

/** Raw bytes to the proxy port; resolves with everything the activator sent back before closing (or after `ms`). */
function raw(port: number, bytes: string | Buffer, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (c) => (out += c.toString()));
    s.on('error', () => undefined);
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.write(bytes);
  });
}

describe('kpa activator: routing and forwarding', () => {
  it('answers an unknown host with 404 naming the host, and keeps serving', async () => {
    const a = await app();
    const act = await activator([staticTarget('hello', [a.port])]);
    const r = await send(act.port, 'nope.example.com', '/x?q=1');
    expect(r.status).toBe(404);
    expect(r.body).toContain('"nope.example.com"');
    expect(r.body).toContain('"/x"');
    expect((await send(act.port, 'hello.example.com')).status).toBe(200);
    expect(act.proxy.unrouted).toBe(1);
  });

  it('keeps Host, removes hop-by-hop headers, adds X-Forwarded-*, and keeps client connections alive', async () => {
    const a = await app();
    const act = await activator([staticTarget('hello', [a.port])]);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    let connections = 0;
    act.proxy.server.on('connection', () => connections++);
    const r1 = await send(act.port, 'HELLO.example.com:8012', '/path?x=1', { agent, headers: { connection: 'keep-alive, x-hop', 'x-hop': 'secret', te: 'trailers', 'x-app': 'kept' } });
    const r2 = await send(act.port, 'hello.example.com', '/again', { agent });
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const seen = a.seen[0];
    expect(seen.url).toBe('/path?x=1');
    expect(seen.headers.host).toBe('HELLO.example.com:8012');
    expect(seen.headers['x-app']).toBe('kept');
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('HELLO.example.com:8012');
    // One client connection served both requests.
    expect(connections).toBe(1);
  });

  it('routes by path prefix under one host', async () => {
    const [web, api] = [await app(), await app()];
    const act = await activator([
      staticTarget('web', [web.port], { hosts: ['shop.example.com'] }),
      staticTarget('api', [api.port], { hosts: ['shop.example.com'], pathPrefix: '/api' }),
    ]);
    expect((await send(act.port, 'shop.example.com', '/api/orders')).body).toBe(`hello from ${api.port}\n`);
    expect((await send(act.port, 'shop.example.com', '/apiary')).body).toBe(`hello from ${web.port}\n`);
  });

  it('holds 1,000 concurrent requests at zero and answers every one once the first endpoint listens: none lost, none sent twice', async () => {
    const port = await freePort();
    const act = await activator([staticTarget('zero', [port])], {}, 50);
    const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    cleanups.push(() => agent.destroy());
    const replies = Promise.all(Array.from({ length: 1000 }, (_, i) => send(act.port, 'zero.example.com', `/r/${i}`, { agent })));
    await until(() => act.router.get({ namespace: 'default', name: 'zero' })!.held === 1000, 10_000);
    // The first request after idleness was reported at once, on its own, so that kpa can wake the target (Knative's poke).
    const first = act.stats.find((batch) => batch.some((m) => m.stat.averageConcurrentRequests > 0));
    expect(first).toEqual([expect.objectContaining({ key: { namespace: 'default', name: 'zero' }, stat: expect.objectContaining({ averageConcurrentRequests: 1, requestCount: 1 }) })]);
    const late = await startApp(hello, port);
    cleanups.push(() => late.close());
    const all = await replies;
    expect(all.filter((r) => r.status !== 200)).toEqual([]);
    const urls = late.seen.map((s) => s.url);
    expect(urls.length).toBe(1000);
    expect(new Set(urls).size).toBe(1000);
  }, 30_000);

  it('a request held past the hold timeout gets 504; past the queue limit, 503 with Retry-After', async () => {
    const act = await activator([staticTarget('zero', [await freePort()])], { holdTimeoutMs: 300, maxHeld: 2 });
    const held = [send(act.port, 'zero.example.com'), send(act.port, 'zero.example.com')];
    await until(() => act.router.get({ namespace: 'default', name: 'zero' })!.held === 2);
    const refused = await send(act.port, 'zero.example.com');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    const started = Date.now();
    const timedOut = await Promise.all(held);
    expect(timedOut.map((r) => r.status)).toEqual([504, 504]);
    expect(timedOut[0].body).toContain('default/zero');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(act.router.get({ namespace: 'default', name: 'zero' })!.held).toBe(0);
  });

  it('never puts more than containerConcurrency requests on one endpoint; the others wait their turn', async () => {
    const slow = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      req.resume();
      setTimeout(() => res.end('ok'), 30);
    };
    const pods = [await app(slow), await app(slow), await app(slow)];
    const act = await activator([staticTarget('cc', pods.map((p) => p.port), { containerConcurrency: 2 })]);
    const all = await Promise.all(Array.from({ length: 60 }, () => send(act.port, 'cc.example.com')));
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(pods.map((p) => p.maxInFlight)).toEqual([2, 2, 2]);
    expect(pods.reduce((n, p) => n + p.seen.length, 0)).toBe(60);
  });

  it('a raised containerConcurrency takes effect on the connections to an endpoint already in use', async () => {
    let gated = false;
    let open: () => void = () => undefined;
    const held = new Promise<void>((r) => (open = r));
    const pod = await app((req, res) => {
      req.resume();
      if (gated) void held.then(() => res.end('ok'));
      else res.end('ok');
    });
    const act = await activator([staticTarget('grow', [pod.port], { containerConcurrency: 1 })]);
    expect((await send(act.port, 'grow.example.com')).status).toBe(200); // its pool now exists, sized for 1
    act.router.configure([{ key: { namespace: 'default', name: 'grow' }, hosts: ['grow.example.com'], pathPrefix: '/', containerConcurrency: 3 }]);
    gated = true;
    const three = [send(act.port, 'grow.example.com'), send(act.port, 'grow.example.com'), send(act.port, 'grow.example.com')];
    await until(() => pod.inFlight === 3, 3000);
    open();
    expect((await Promise.all(three)).map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('balances least-loaded without a limit', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const hold = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      req.resume();
      void gate.then(() => res.end('ok'));
    };
    const pods = [await app(hold), await app(hold)];
    const act = await activator([staticTarget('lb', pods.map((p) => p.port))]);
    const all = Promise.all(Array.from({ length: 10 }, () => send(act.port, 'lb.example.com')));
    await until(() => pods[0].inFlight + pods[1].inFlight === 10);
    expect(pods.map((p) => p.inFlight)).toEqual([5, 5]);
    release();
    await all;
  });

  it('passes a websocket through, held at zero like any request', async () => {
    const port = await freePort();
    const act = await activator([staticTarget('ws', [port])], {}, 50);
    const client = new WebSocket(`ws://127.0.0.1:${act.port}/chat`, { headers: { host: 'ws.example.com' } });
    cleanups.push(() => client.terminate());
    await until(() => act.router.get({ namespace: 'default', name: 'ws' })!.held === 1);
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
    let path = '';
    wss.on('connection', (ws, req) => {
      path = req.url ?? '';
      ws.on('message', (m, binary) => ws.send(m, { binary }));
    });
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
    client.send('ping through the activator');
    expect(await echoed).toBe('ping through the activator');
    expect(path).toBe('/chat');
    // The open connection counts as one request in flight.
    expect(act.router.get({ namespace: 'default', name: 'ws' })!.stats.concurrency).toBe(1);
    client.close();
    await until(() => act.router.get({ namespace: 'default', name: 'ws' })!.stats.concurrency === 0);
  });

  it('streams server-sent events as they are written', async () => {
    const sse = await app((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      const t = setTimeout(() => res.end('data: two\n\n'), 1500);
      res.on('close', () => clearTimeout(t));
    });
    const act = await activator([staticTarget('sse', [sse.port])]);
    const started = Date.now();
    const first = await new Promise<{ chunk: string; at: number }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: act.port, path: '/events', headers: { host: 'sse.example.com' } }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.once('data', (c: Buffer) => {
          resolve({ chunk: c.toString(), at: Date.now() - started });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(first.chunk).toBe('data: one\n\n');
    expect(first.at).toBeLessThan(1000);
  });

  it('a client that goes away aborts the upstream request', async () => {
    let upstreamClosed = false;
    let received = false;
    const hang = await app((req) => {
      received = true;
      req.on('close', () => (upstreamClosed = true));
    });
    const act = await activator([staticTarget('hang', [hang.port])]);
    const req = request({ host: '127.0.0.1', port: act.port, path: '/', headers: { host: 'hang.example.com' } });
    req.on('error', () => undefined);
    req.end();
    await until(() => received);
    req.destroy();
    await until(() => upstreamClosed, 3000);
    await until(() => act.proxy.active === 0);
    expect(hang.inFlight).toBe(0);
  });

  it('retries a GET whose endpoint resets the connection on another endpoint; a POST with a body gets 502', async () => {
    const resetting = await app((req) => req.socket.destroy());
    const good = await app();
    const act = await activator([staticTarget('flaky', [resetting.port, good.port])]);
    const gets = await Promise.all(Array.from({ length: 10 }, () => send(act.port, 'flaky.example.com')));
    expect(gets.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(gets.every((r) => r.body === `hello from ${good.port}\n`)).toBe(true);
    expect(resetting.seen.length).toBeGreaterThan(0);
    const onlyBad = await activator([staticTarget('bad', [resetting.port])]);
    const post = await send(onlyBad.port, 'bad.example.com', '/', { method: 'POST', body: 'payload' });
    expect(post.status).toBe(502);
    expect(post.body).toContain('reset');
    expect(onlyBad.router.get({ namespace: 'default', name: 'bad' })!.upstreamErrors.get('reset')).toBe(1);
  });

  it('a GET that meets several stopped pods in a row (before the prober notices) still reaches the one that listens', async () => {
    const stopped = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const live = await app();
    // Probed ready once a minute: the test says which endpoints the activator believes in.
    const act = await activator([staticTarget('shrunk', [...stopped, live.port])], {}, 60_000);
    const target = act.router.get({ namespace: 'default', name: 'shrunk' })!;
    for (const e of target.endpoints) target.setReady(e, true);
    const r = await send(act.port, 'shrunk.example.com');
    expect(r.status).toBe(200);
    expect(r.body).toBe(`hello from ${live.port}\n`);
  });

  it('moves off an endpoint that stops listening, and back once it listens again', async () => {
    const a = await startApp();
    const b = await app();
    const act = await activator([staticTarget('move', [a.port, b.port])], {}, 50);
    await a.close();
    const replies = await Promise.all(Array.from({ length: 6 }, () => send(act.port, 'move.example.com')));
    expect(replies.every((r) => r.status === 200 && r.body === `hello from ${b.port}\n`)).toBe(true);
    const back = await startApp(hello, a.port);
    cleanups.push(() => back.close());
    await until(() => act.router.get({ namespace: 'default', name: 'move' })!.readyEndpoints.length === 2, 3000);
    await Promise.all(Array.from({ length: 6 }, () => send(act.port, 'move.example.com')));
    expect(back.seen.length).toBeGreaterThan(0);
  });
});

describe('kpa activator: hostile input and broken upstreams affect only themselves', () => {
  it('malformed requests get 400, huge headers 431, and the activator keeps serving', async () => {
    const a = await app();
    const act = await activator([staticTarget('hello', [a.port])]);
    expect(await raw(act.port, 'THIS IS NOT HTTP\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(act.port, `GET / HTTP/1.1\r\nHost: hello.example.com\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    expect(await raw(act.port, 'GET / HTTP/1.1\r\nHost: hello.example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(act.port, 'GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 400[^]*Host header/);
    expect((await send(act.port, 'hello.example.com')).status).toBe(200);
  });

  it('an upstream that sends garbage gives 502; one that hangs gives 504 at the upstream timeout; other targets are served meanwhile', async () => {
    const garbage = await app((req) => {
      req.socket.write('NOT A STATUS LINE\r\n\r\n');
      req.socket.end();
    });
    const hang = await app(() => undefined);
    const good = await app();
    const act = await activator([staticTarget('garbage', [garbage.port]), staticTarget('hang', [hang.port]), staticTarget('good', [good.port])],
      { upstreamTimeoutMs: 1500 });
    const hung = send(act.port, 'hang.example.com');
    const started = Date.now();
    expect((await send(act.port, 'good.example.com')).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(500);
    const bad = await send(act.port, 'garbage.example.com', '/', { method: 'POST', body: 'x' });
    expect(bad.status).toBe(502);
    expect((await hung).status).toBe(504);
  });

  it('a slow client trickling its headers (slowloris) is cut at the headers timeout and holds nothing up', async () => {
    const a = await app();
    const act = await activator([staticTarget('hello', [a.port])]);
    // The attacker never reads what it is sent and never closes: the activator must let go by itself.
    const s = connect(act.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.pause();
    s.write('GET / HTTP/1.1\r\nHost: hello.example.com\r\n');
    const trickle = setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 200);
    cleanups.push(() => { clearInterval(trickle); s.destroy(); });
    const oneShot = new Agent({ keepAlive: false });
    expect((await send(act.port, 'hello.example.com', '/', { agent: oneShot })).status).toBe(200);
    const connections = () => new Promise<number>((resolve) => act.proxy.server.getConnections((_e, n) => resolve(n)));
    expect(await connections()).toBe(1);
    // Node's headersTimeout (15 s) is checked every connectionsCheckingInterval (5 s).
    const started = Date.now();
    while (await connections() > 0) {
      expect(Date.now() - started).toBeLessThan(22_000);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 30_000);
});
