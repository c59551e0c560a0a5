import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../src/activator/headers.js';
import { RequestStats } from '../../src/activator/requestStats.js';
import { normalizeHost, RequestRouter, underPrefix } from '../../src/activator/router.js';
import { parseRoutesFile } from '../../src/activator/routesFile.js';
import { type Endpoint, Target, Waiter } from '../../src/activator/target.js';

const key = { namespace: 'default', name: 'hello' };
const ready = (...ports: number[]) => ports.map((port) => ({ host: '127.0.0.1', port, ready: true }));

function target(containerConcurrency: number, maxHeld = 10_000): Target {
  return new Target({ key, containerConcurrency, maxHeld }, 0);
}

/** A waiter that records what it was given. */
function waiter(log: (Endpoint | string)[]): Waiter {
  return new Waiter((e) => log.push(e), (status) => log.push(`refused ${status}`), 0);
}

describe('RequestStats: the time-weighted concurrency of a reporting period', () => {
  it.each([
    // [events as [time, +1 arrive / -1 depart], report time, average, count]
    ['nothing', [], 1, 0, 0],
    ['one request the whole second', [[0, 1]], 1, 1, 1],
    ['one request half the second', [[0, 1], [0.5, -1]], 1, 0.5, 1],
    ['two overlapping', [[0, 1], [0.25, 1], [0.75, -1]], 1, 1.5, 2],
    ['a request from before the period counts, not as an arrival', [[-5, 1]], 1, 1, 1],
  ] as [string, [number, number][], number, number, number][])('%s', (_name, events, at, average, count) => {
    const s = new RequestStats(0);
    for (const [t, d] of events) {
      if (d > 0) s.arrive(t);
      else s.depart(t);
    }
    const r = s.report(at);
    expect(r.averageConcurrency).toBeCloseTo(average, 12);
    expect(r.requestCount).toBe(count);
  });

  it('a new target\'s first, partial period is averaged over a whole second, as kpa reads every report', () => {
    const s = new RequestStats(0.6);
    s.arrive(0.7);
    expect(s.report(1).averageConcurrency).toBeCloseTo(0.3, 12);
    expect(s.report(1.5).averageConcurrency).toBeCloseTo(1, 12);
  });

  it('carries in-flight requests into the next period', () => {
    const s = new RequestStats(0);
    s.arrive(0.5);
    expect(s.report(1)).toEqual({ averageConcurrency: 0.5, requestCount: 1 });
    expect(s.report(2)).toEqual({ averageConcurrency: 1, requestCount: 0 });
  });

  it('a clock that steps back never subtracts load', () => {
    const s = new RequestStats(10);
    s.arrive(10);
    s.depart(9);
    expect(s.report(11).averageConcurrency).toBeGreaterThanOrEqual(0);
  });

  it('property: the reported averages integrate to the request-seconds, whatever the report times', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true })), { maxLength: 30 }),
      fc.array(fc.double({ min: 0.01, max: 2, noNaN: true }), { minLength: 1, maxLength: 40 }), (requests, gaps) => {
        const events = requests.flatMap(([start, length]) => [{ t: start, d: 1 }, { t: start + length, d: -1 }]).sort((a, b) => a.t - b.t);
        const truth = requests.reduce((sum, [, length]) => sum + length, 0);
        const s = new RequestStats(0);
        s.report(0); // the first period of a new target counts as a whole second; start after it
        let t = 0;
        let integral = 0;
        let i = 0;
        for (const gap of [...gaps, 100]) {
          const end = t + gap;
          while (i < events.length && events[i].t <= end) {
            if (events[i].d > 0) s.arrive(events[i].t);
            else s.depart(events[i].t);
            i++;
          }
          integral += s.report(end).averageConcurrency * gap;
          t = end;
        }
        expect(integral).toBeCloseTo(truth, 6);
      }));
  });
});

describe('Target: Knative\'s throttler for one Deployment', () => {
  it('holds every request while no endpoint is ready, then releases them in arrival order', () => {
    const t = target(0);
    const log: (Endpoint | string)[] = [];
    const waiters = [waiter(log), waiter(log), waiter(log)];
    for (const w of waiters) expect(t.hold(w)).toBe(true);
    expect(t.held).toBe(3);
    t.setEndpoints(ready(1));
    expect(log.length).toBe(3);
    expect(t.held).toBe(0);
  });

  it('never puts more than containerConcurrency requests on an endpoint; the rest wait FIFO', () => {
    const t = target(2);
    t.setEndpoints(ready(1, 2));
    const got = [t.acquire(), t.acquire(), t.acquire(), t.acquire(), t.acquire()];
    expect(got.slice(0, 4).every(Boolean)).toBe(true);
    expect(got[4]).toBeNull();
    expect([...t.endpoints].map((e) => e.inFlight)).toEqual([2, 2]);
    const log: (Endpoint | string)[] = [];
    const [a, b] = [waiter(log), waiter(log)];
    t.hold(a);
    t.hold(b);
    t.release(got[0]!);
    expect(log).toEqual([got[0]]);
    expect(t.held).toBe(1);
  });

  it('with no limit, balances least-loaded and spreads ties', () => {
    const t = target(0);
    t.setEndpoints(ready(1, 2, 3));
    const first = [t.acquire()!, t.acquire()!, t.acquire()!];
    expect(new Set(first.map((e) => e.port)).size).toBe(3);
    t.release(first[1]);
    expect(t.acquire()!.port).toBe(first[1].port);
  });

  it('a retry prefers an endpoint it has not failed on, and falls back to one it has', () => {
    const t = target(0);
    t.setEndpoints(ready(1, 2));
    const bad = t.acquire()!;
    t.release(bad);
    expect(t.acquire(new Set([bad]))!.port).not.toBe(bad.port);
    const only = target(0);
    only.setEndpoints(ready(1));
    const e = only.acquire()!;
    only.release(e);
    expect(only.acquire(new Set([e]))).toBe(e);
  });

  it('refuses past the queue limit, and a cancelled waiter leaves no trace', () => {
    const t = target(0, 2);
    const log: (Endpoint | string)[] = [];
    const [a, b, c] = [waiter(log), waiter(log), waiter(log)];
    expect([t.hold(a), t.hold(b), t.hold(c)]).toEqual([true, true, false]);
    t.cancel(a);
    t.cancel(a);
    expect(t.held).toBe(1);
    expect(t.hold(c)).toBe(true);
    t.setEndpoints(ready(1));
    expect(log.length).toBe(2);
  });

  it('an endpoint that leaves keeps its in-flight requests; the ones left take new requests', () => {
    const t = target(1);
    t.setEndpoints(ready(1, 2));
    const e1 = t.acquire()!;
    const removed = t.setEndpoints(ready(2));
    expect(removed).toEqual([e1]);
    expect(e1.member).toBe(false);
    t.release(e1);
    expect(t.acquire()!.port).toBe(2);
    expect(t.acquire()).toBeNull();
  });

  it('reports the first request after an idle period at once, and the next period subtracts it (Knative\'s reporter)', () => {
    const t = target(0);
    expect(t.arrive(0.2)).toBe(true);
    expect(t.arrive(0.3)).toBe(false);
    t.depart(0.7);
    t.depart(0.7);
    // 0.5 + 0.4 request-seconds, two requests; one of each was already reported.
    const r = t.report(1);
    expect(r.averageConcurrency).toBeCloseTo(0, 12);
    expect(r.requestCount).toBe(1);
    expect(t.report(2)).toEqual({ averageConcurrency: 0, requestCount: 0 });
    expect(t.arrive(2.1)).toBe(true);
  });

  it('property: slots are never exceeded and every waiter is answered once endpoints appear', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.constantFrom('arrive', 'finish', 'cancel', 'endpoints'), { maxLength: 200 }), (cc, ops) => {
      const t = target(cc, 50);
      const inFlight: Endpoint[] = [];
      const queued: Waiter[] = [];
      let answered = 0;
      let ports = 0;
      for (const op of ops) {
        if (op === 'arrive') {
          const e = t.acquire();
          if (e) inFlight.push(e);
          else {
            const w = new Waiter((g) => { answered++; inFlight.push(g); }, () => undefined, 0);
            if (t.hold(w)) queued.push(w);
          }
        } else if (op === 'finish' && inFlight.length > 0) t.release(inFlight.shift()!);
        else if (op === 'cancel' && queued.length > 0) t.cancel(queued.shift()!);
        else if (op === 'endpoints') t.setEndpoints(ready(...Array.from({ length: (ports = (ports % 3) + 1) }, (_, i) => i + 1)));
        for (const e of t.endpoints) expect(e.inFlight).toBeLessThanOrEqual(cc);
        expect(t.held).toBeGreaterThanOrEqual(0);
        // A request waits only while no endpoint has a free slot.
        if (t.held > 0) expect(t.assignedEndpoints.every((e) => e.inFlight >= cc)).toBe(true);
      }
      expect(answered).toBeLessThanOrEqual(ops.length);
    }));
  });
});

describe('RequestRouter: by Host, then the longest path prefix', () => {
  const router = new RequestRouter({ maxHeld: 10 }, () => 0);
  const a = { namespace: 'ns', name: 'a' };
  const b = { namespace: 'ns', name: 'b' };
  const c = { namespace: 'ns', name: 'c' };
  const { conflicts } = router.configure([
    { key: a, hosts: ['Shop.Example.com'], pathPrefix: '/', containerConcurrency: 0 },
    { key: b, hosts: ['shop.example.com'], pathPrefix: '/api', containerConcurrency: 0 },
    { key: c, hosts: ['shop.example.com', 'other.example.com'], pathPrefix: '/api', containerConcurrency: 0 },
  ]);

  it.each([
    ['shop.example.com', '/', 'a'],
    ['SHOP.example.com:8080', '/index.html', 'a'],
    ['shop.example.com.', '/x', 'a'],
    ['shop.example.com', '/api', 'b'],
    ['shop.example.com', '/api/', 'b'],
    ['shop.example.com', '/api/orders?x=1', 'b'],
    ['shop.example.com', '/apiary', 'a'],
    ['shop.example.com', '/api?x=1', 'b'],
    ['other.example.com', '/api/x', 'c'],
    ['other.example.com', '/', undefined],
    ['unknown.example.com', '/', undefined],
  ])('%s %s → %s', (host, url, expected) => {
    expect(router.match(host, url)?.key.name).toBe(expected);
  });

  it('a host and path claimed twice keeps the first claim and reports the second', () => {
    expect(conflicts).toEqual([{ host: 'shop.example.com', pathPrefix: '/api', winner: b, loser: c }]);
  });

  it('keeps a target\'s state across reconfiguration and returns the ones removed', () => {
    const r = new RequestRouter({ maxHeld: 10 }, () => 0);
    r.configure([{ key: a, hosts: ['a'], pathPrefix: '/', containerConcurrency: 0 }, { key: b, hosts: ['b'], pathPrefix: '/', containerConcurrency: 0 }]);
    const before = r.get(a)!;
    r.setEndpoints(a, ready(1));
    const { removed } = r.configure([{ key: a, hosts: ['a2'], pathPrefix: '/', containerConcurrency: 3 }]);
    expect(removed.map((t) => t.key.name)).toEqual(['b']);
    expect(r.get(a)).toBe(before);
    expect(before.spec.containerConcurrency).toBe(3);
    expect(before.readyEndpoints.length).toBe(1);
    expect(r.match('a', '/')).toBeUndefined();
    expect(r.match('a2', '/')).toBe(before);
  });

  it.each([
    ['Example.COM', 'example.com'], ['example.com:80', 'example.com'], ['example.com.', 'example.com'],
    ['[::1]:8080', '[::1]'], ['10.0.0.1:80', '10.0.0.1'], [' example.com ', 'example.com'],
  ])('normalizeHost(%j) = %j', (raw, host) => expect(normalizeHost(raw)).toBe(host));

  it.each([
    ['/', '/anything', true], ['/api', '/api', true], ['/api', '/api/v1', true], ['/api/', '/api/v1', true],
    ['/api', '/apiv1', false], ['/api', '/', false], ['/a/b', '/a/b/c', true], ['/a/b', '/a/bc', false],
  ])('underPrefix(%j, path %j) = %j', (prefix, path, expected) => expect(underPrefix(path, prefix)).toBe(expected));
});

describe('routes file', () => {
  it('parses targets, merging hosts of one Deployment', () => {
    const targets = parseRoutesFile(`
- {host: Hello.Example.com, namespace: default, name: hello, endpoints: ["http://127.0.0.1:8081", "http://[::1]:8082"], containerConcurrency: 4}
- {host: www.example.com, namespace: default, name: hello, endpoints: ["http://127.0.0.1:8081", "http://[::1]:8082"], containerConcurrency: 4}
- {host: api.example.com, pathPrefix: /v1, namespace: shop, name: api, endpoints: []}
`);
    expect(targets).toEqual([
      { key: { namespace: 'default', name: 'hello' }, hosts: ['hello.example.com', 'www.example.com'], pathPrefix: '/', containerConcurrency: 4,
        endpoints: [{ host: '127.0.0.1', port: 8081 }, { host: '::1', port: 8082 }] },
      { key: { namespace: 'shop', name: 'api' }, hosts: ['api.example.com'], pathPrefix: '/v1', containerConcurrency: 0, endpoints: [] },
    ]);
  });

  it.each([
    ['not: [a list', '(file): not valid YAML'],
    ['{}', '(file): must be a non-empty YAML list'],
    ['- {namespace: a, name: b, endpoints: []}', '[0].host: must be a non-empty string'],
    ['- {host: "http://x", namespace: a, name: b, endpoints: []}', '[0].host: must be a host name'],
    ['- {host: x, namespace: a, name: b}', '[0].endpoints: must be a list'],
    ['- {host: x, namespace: a, name: b, endpoints: [ftp://x:1]}', '[0].endpoints[0]: must be an http:// URL'],
    ['- {host: x, namespace: a, name: b, endpoints: ["http://x:1/path"]}', '[0].endpoints[0]: must be just http://HOST:PORT'],
    ['- {host: x, namespace: a, name: b, endpoints: [], containerConcurrency: -1}', '[0].containerConcurrency: must be a whole number'],
    ['- {host: x, namespace: a, name: b, endpoints: [], pathPrefix: api}', '[0].pathPrefix: must start with "/"'],
    ['- {host: x, namespace: a, name: b, endpoints: [], hosts: [y]}', '[0].hosts: unknown field'],
    ['- {host: x, namespace: a, name: b, endpoints: []}\n- {host: x, namespace: a, name: c, endpoints: []}', '[1].host: x with path prefix / is routed twice'],
    ['- {host: x, namespace: a, name: b, endpoints: []}\n- {host: y, namespace: a, name: b, endpoints: [], containerConcurrency: 2}', '[1]: a/b is listed again'],
  ])('%j → %s', (text, message) => {
    expect(() => parseRoutesFile(text)).toThrow(message);
  });
});

describe('forwarded headers', () => {
  const fwd = { client: '10.0.0.9', host: 'shop.example.com' };

  it('drops hop-by-hop headers and those Connection names, keeps the rest in order and case', () => {
    const out = upstreamRequestHeaders(['Host', 'shop.example.com', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 's', 'Keep-Alive', 'timeout=5',
      'TE', 'trailers', 'Proxy-Authorization', 'Basic x', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Accept', '*/*', 'Expect', '100-continue'],
    'keep-alive, X-Secret', fwd);
    expect(out).toEqual(['Host', 'shop.example.com', 'Accept', '*/*',
      'X-Forwarded-For', '10.0.0.9', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'shop.example.com']);
  });

  it('appends to X-Forwarded-For and keeps what an Ingress in front set', () => {
    const out = upstreamRequestHeaders(['X-Forwarded-For', '1.1.1.1', 'x-forwarded-for', '2.2.2.2', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'www.example.com'], undefined, fwd);
    expect(out).toEqual(['X-Forwarded-For', '1.1.1.1, 2.2.2.2, 10.0.0.9', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'www.example.com']);
  });

  it('keeps the Upgrade handshake for a websocket', () => {
    const out = upstreamRequestHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'], 'Upgrade', fwd, 'websocket');
    expect(out).toEqual(['Sec-WebSocket-Key', 'k', 'X-Forwarded-For', '10.0.0.9', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'shop.example.com',
      'Connection', 'Upgrade', 'Upgrade', 'websocket']);
  });

  it('drops hop-by-hop response headers', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'close, X-Internal', 'X-Internal', '1', 'Transfer-Encoding', 'chunked', 'Keep-Alive', 'timeout=5', 'Set-Cookie', 'a=b']
      .map((s) => Buffer.from(s));
    expect(clientResponseHeaders(raw)).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=b']);
  });
});
