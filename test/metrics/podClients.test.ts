import { createServer, type RequestListener, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { PodClients } from '../../src/metrics/podClients.js';
import { fetchPodStat, RevisionScraper } from '../../src/metrics/scraper.js';
import { ScrapeLoop, type ScrapeTarget } from '../../src/metrics/scrapeLoop.js';
import { encodeStat } from '../../src/metrics/wireStats.js';
import { stat } from '../helpers/engine.js';
import { until } from '../helpers/wait.js';

/** A pod on its own server that keeps every socket it accepted, to see from the server side which ones are open. */
interface Pod {
  server: Server;
  url: string;
  sockets: Socket[];
  open(): number;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function pod(handler?: RequestListener): Promise<Pod> {
  const body = encodeStat(stat(2, 4, 'p'));
  const server = createServer(handler ?? ((_req, res) => void res.writeHead(200, { 'content-type': 'application/protobuf' }).end(body)));
  const sockets: Socket[] = [];
  server.on('connection', (s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return {
    server, sockets,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    open: () => sockets.filter((s) => !s.destroyed && !s.closed).length,
  };
}

const target = (name: string, ...pods: Pod[]): ScrapeTarget => ({
  key: { namespace: 'n', name }, pods: pods.map((p, i) => ({ name: `${name}-${i}`, url: p.url, startedAt: 0 })), stableWindowSeconds: 60,
});

describe('the scraper\'s pod connections', () => {
  it('keeps one connection per pod alive across scrapes', async () => {
    const a = await pod();
    const scraper = new RevisionScraper();
    for (let i = 0; i < 5; i++) expect((await scraper.scrape(target('r', a).pods, 1000, 60)).kind).toBe('stat');
    expect(a.sockets).toHaveLength(1);
    expect(a.open()).toBe(1);
    await scraper.close();
    await until(() => a.open() === 0);
  });

  it('closes the connection of a pod that is no longer any revision\'s ready pod, and keeps the others', async () => {
    const kept = await pod();
    const gone = await pod();
    let targets = [target('r', kept, gone)];
    const scraper = new RevisionScraper();
    const loop = new ScrapeLoop({ targets: () => targets, scraper, clock: new ManualClock(1000), logger: silentLogger(), onStat: () => undefined });
    await loop.runOnce();
    expect([kept.open(), gone.open()]).toEqual([1, 1]);
    targets = [target('r', kept)]; // the pod went away (scaled down, or no longer ready)
    await loop.runOnce();
    await until(() => gone.open() === 0); // closed by kpa, seen on the pod's side of the socket
    expect(kept.open()).toBe(1);
    expect(kept.sockets).toHaveLength(1); // the same connection still
    targets = []; // the revision went to zero: its pods' connections go too
    await loop.runOnce();
    await until(() => kept.open() === 0);
    await loop.stop();
    await scraper.close();
  });

  it('closes a hung pod\'s connection when its scrape times out', async () => {
    // A raw socket that reads the request and never answers: its 'end' is kpa closing its side.
    let ended = 0;
    const hung = createNetServer((socket) => {
      socket.resume();
      socket.on('end', () => ended++);
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/metrics`;
    const clients = new PodClients();
    await expect(fetchPodStat({ name: 'h', url, startedAt: 0 }, 100, 1024, undefined, clients)).rejects.toThrow(/no answer within 100 ms/);
    await until(() => ended === 1);
    await clients.close();
    await new Promise<void>((resolve) => hung.close(() => resolve()));
  });

  it('a request that times out before it is sent leaves the connection open for the next one', async () => {
    const body = encodeStat(stat(1));
    const slow = await pod((_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'application/protobuf' }).end(body), 300));
    const clients = new PodClients();
    const get = (timeoutMs: number) => clients.get(slow.url, { timeoutMs, maxBodyBytes: 1024, headers: ['accept', 'application/protobuf'] });
    const first = get(5000); // holds the pod's one connection for 300 ms
    await expect(get(100)).rejects.toThrow(/no answer within 100 ms/); // queued behind it, never sent
    await expect(first).resolves.toMatchObject({ status: 200 });
    await expect(get(5000)).resolves.toMatchObject({ status: 200 });
    expect(slow.sockets).toHaveLength(1); // closing it would have cost a new connection
    await clients.close();
  });

  it('refuses a declared body past the cap before reading it, and a 500 without a stat', async () => {
    const big = await pod((_req, res) => void res.writeHead(200, { 'content-type': 'application/protobuf', 'content-length': String(2048) }).write('x'));
    const failing = await pod((_req, res) => void res.writeHead(500).end('boom'));
    const clients = new PodClients();
    await expect(fetchPodStat({ name: 'b', url: big.url, startedAt: 0 }, 5000, 1024, undefined, clients)).rejects.toThrow(/response body larger than 1024 bytes/);
    await expect(fetchPodStat({ name: 'f', url: failing.url, startedAt: 0 }, 5000, 1024, undefined, clients)).rejects.toThrow(/HTTP status 500/);
    await expect(fetchPodStat({ name: 'f', url: failing.url, startedAt: 0 }, 5000, 1024, undefined, clients)).rejects.toThrow(/HTTP status 500/);
    expect(failing.sockets).toHaveLength(1); // an error status is read to its end: the connection stays for the next scrape
    await clients.close();
  });

  it('a refused connection is the scrape\'s error, with the address', async () => {
    const closed = await pod();
    const url = closed.url;
    closed.server.close();
    await new Promise((r) => setTimeout(r, 10));
    const clients = new PodClients();
    await expect(fetchPodStat({ name: 'c', url, startedAt: 0 }, 1000, 1024, undefined, clients)).rejects.toThrow(/ECONNREFUSED/);
    await clients.close();
  });
});
