import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import type { RevisionKey } from '../../src/metrics/revisionKey.js';
import { StatClient, StatSender } from '../../src/metrics/statClient.js';
import { FORWARDED_BY_HEADER, StatServer } from '../../src/metrics/statServer.js';
import type { RevisionStat } from '../../src/metrics/wireStats.js';
import { ipOfHolder } from '../../src/sharding/holderIdentity.js';
import { StatForwarder } from '../../src/sharding/statForwarder.js';
import { stat } from '../helpers/engine.js';
import { until } from '../helpers/wait.js';

/** Two replicas' stat servers on 127.0.0.1; A's forwarder routes by a bucket table the test sets. */
interface Pair {
  a: StatServer;
  b: StatServer;
  atA: RevisionStat[];
  atB: { stats: RevisionStat[]; forwarded: boolean }[];
  holders: Map<string, string>;
  forwarder: StatForwarder;
  clock: ManualClock;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const A = 'kpa-a_127.0.0.1';
const B = 'kpa-b_127.0.0.2';
const rev = (name: string): RevisionKey => ({ namespace: 'apps', name });

async function pair(options: { maxWaiting?: number; maxWaitSeconds?: number } = {}): Promise<Pair> {
  const atA: RevisionStat[] = [];
  const atB: Pair['atB'] = [];
  const holders = new Map<string, string>();
  const clock = new ManualClock(1000);
  let forwarder: StatForwarder | null = null;
  const a = await StatServer.start({ host: '127.0.0.1', port: 0, logger: silentLogger(), onStats: (s, fwd) => forwarder!.route(s, fwd) });
  const b = await StatServer.start({ host: '127.0.0.1', port: 0, logger: silentLogger(), onStats: (stats, forwarded) => atB.push({ stats, forwarded }) });
  forwarder = new StatForwarder({
    // The bucket of a revision is its name here; the test says who holds it.
    bucketOf: (key) => key.name, holderOf: (bucket) => holders.get(bucket) ?? '', self: A, clock, logger: silentLogger(),
    recordLocally: (s) => atA.push(...s),
    // Both listen on 127.0.0.1 in a test; the owner's IP picks which server.
    connect: (ip) => new StatSender({ url: `ws://127.0.0.1:${ip === ipOfHolder(B) ? b.port : a.port}/`, headers: { [FORWARDED_BY_HEADER]: A } }),
    retryMs: 20, ...options,
  });
  cleanups.push(async () => {
    await forwarder!.close();
    await a.close();
    await b.close();
  });
  return { a, b, atA, atB, holders, forwarder, clock };
}

async function sendTo(server: StatServer, stats: RevisionStat[]): Promise<void> {
  const client = await StatClient.connect(`ws://127.0.0.1:${server.port}/`);
  await client.send(stats);
  await client.close();
}

describe('the stat forwarder (Knative statforwarder)', () => {
  it("records its own revisions' stats and sends the others' to their owner, marked as forwarded", async () => {
    const p = await pair();
    p.holders.set('mine', A);
    p.holders.set('theirs', B);
    await sendTo(p.a, [{ key: rev('mine'), stat: stat(3) }, { key: rev('theirs'), stat: stat(5) }, { key: rev('theirs'), stat: stat(6, 0, 'pod-2') }]);
    await until(() => p.atA.length === 1 && p.atB.flatMap((f) => f.stats).length === 2);
    expect(p.atA.map((s) => s.key.name)).toEqual(['mine']);
    expect(p.atB.every((f) => f.forwarded)).toBe(true);
    expect(p.atB.flatMap((f) => f.stats).map((s) => s.stat.averageConcurrentRequests)).toEqual([5, 6]);
    expect(p.forwarder.counters.forwarded).toBe(2);
  });

  it('holds a stat while its bucket has no owner, and delivers it once one takes the bucket', async () => {
    const p = await pair();
    await sendTo(p.a, [{ key: rev('handover'), stat: stat(4) }]);
    await until(() => p.forwarder.waitingCount === 1);
    p.holders.set('handover', B);
    await until(() => p.atB.length === 1);
    expect(p.forwarder.waitingCount).toBe(0);
    expect(p.forwarder.counters.dropped['no-owner']).toBe(0);
  });

  it('drops and counts what waits past the bound, and what does not fit the buffer', async () => {
    const p = await pair({ maxWaiting: 10, maxWaitSeconds: 3 });
    await sendTo(p.a, Array.from({ length: 25 }, (_, i) => ({ key: rev('orphan'), stat: stat(1, 0, `pod-${i}`) })));
    await until(() => p.forwarder.waitingCount === 10);
    expect(p.forwarder.counters.dropped['buffer-full']).toBe(15);
    p.clock.advance(3.5);
    await until(() => p.forwarder.waitingCount === 0);
    expect(p.forwarder.counters.dropped['no-owner']).toBe(10);
    p.holders.set('orphan', B);
    await new Promise((r) => setTimeout(r, 100));
    expect(p.atB).toEqual([]);
  });

  it('never forwards a forwarded stat again: one sent here for a revision another replica owns is dropped and counted', async () => {
    const p = await pair();
    p.holders.set('elsewhere', B);
    p.holders.set('mine', A);
    const client = await StatClient.connect(`ws://127.0.0.1:${p.a.port}/`, { [FORWARDED_BY_HEADER]: 'kpa-c_127.0.0.3' });
    await client.send([{ key: rev('elsewhere'), stat: stat(2) }, { key: rev('mine'), stat: stat(7) }]);
    await client.close();
    await until(() => p.atA.length === 1);
    expect(p.forwarder.counters.dropped['not-owner']).toBe(1);
    expect(p.atB).toEqual([]);
  });

  it("closes its connection to a replica that holds no bucket any more", async () => {
    const p = await pair();
    p.holders.set('theirs', B);
    await sendTo(p.a, [{ key: rev('theirs'), stat: stat(1) }]);
    await until(() => p.atB.length === 1);
    expect(p.b.counters.connectionsOpen).toBe(1);
    p.forwarder.closeUnused([A]);
    await until(() => p.b.counters.connectionsOpen === 0);
  });
});
