import type { V1EndpointSlice } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignSlice, nextPeerView, peersFromEndpointSlices, pickIndices, UNKNOWN_PEERS } from '../../src/activator/peers.js';
import { RequestRouter } from '../../src/activator/router.js';
import { type Endpoint, type EndpointAddress, Target, Waiter } from '../../src/activator/target.js';

const key = { namespace: 'default', name: 'hello' };

function target(containerConcurrency: number): Target {
  return new Target({ key, containerConcurrency, maxHeld: 10_000 }, 0);
}

/** `n` ready endpoints 10.0.0.1:8080 … (ids sort as the hosts' last digit does for n ≤ 9). */
function endpoints(n: number): EndpointAddress[] {
  return Array.from({ length: n }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 8080, ready: true }));
}

const ids = (es: readonly Endpoint[]) => es.map((e) => e.id);
const dest = (i: number) => `10.0.0.${i}:8080`;

/** Every slot a target gives out until it has none left, by endpoint id. */
function fill(t: Target): Map<string, number> {
  const taken = new Map<string, number>();
  for (let e = t.acquire(); e; e = t.acquire()) taken.set(e.id, (taken.get(e.id) ?? 0) + 1);
  return taken;
}

describe('pickIndices: Knative throttler_test.go TestPickIndices', () => {
  it.each([
    // [label, pods, activators, index, begin, end, remnants]
    ['1 pod, 1 activator', 1, 1, 0, 0, 1, 0],
    ['1 pod, 2 activators, this is 0', 1, 2, 0, 0, 1, 0],
    ['1 pod, 2 activators, this is 1', 1, 2, 1, 0, 1, 0],
    ['2 pods, 3 activators, this is 1', 2, 3, 1, 1, 2, 0],
    ['2 pods, 3 activators, this is 2', 2, 3, 2, 0, 1, 0],
    ['3 pods, 3 activators, this is 2', 3, 3, 2, 2, 3, 0],
    ['10 pods, 3 activators this is 0', 10, 3, 0, 0, 3, 1],
    ['10 pods, 3 activators this is 1', 10, 3, 1, 3, 6, 1],
    ['10 pods, 3 activators this is 2', 10, 3, 2, 6, 9, 1],
    ['150 pods, 5 activators this is 0', 150, 5, 0, 0, 30, 0],
    ['150 pods, 5 activators this is 1', 150, 5, 1, 30, 60, 0],
    ['150 pods, 5 activators this is 4', 150, 5, 4, 120, 150, 0],
  ])('%s', (_label, pods, acts, idx, begin, end, remnants) => {
    expect(pickIndices(pods, idx, acts)).toEqual({ begin, end, remnants });
  });
});

describe('assignSlice: Knative throttler_test.go TestAssignSlice, TestPodAssignmentFinite, TestThrottlerUpdateCapacity', () => {
  const three = ['1', '2', '3'];
  it.each([
    // [label, sorted endpoints, index, activators, this activator's share]
    ['no endpoints', [], 0, 1, []],
    ['idx=1, na=1: a single activator takes all', three, 1, 1, three],
    ['idx=-1: an unknown index takes all', three, -1, 1, three],
    ['idx=-1 of 2 still takes all', three, -1, 2, three],
    ['idx=1 na=3', three, 1, 3, ['2']],
    ['len=1: one endpoint is everybody\'s', ['1'], 1, 3, ['1']],
    ['idx=1 of 2, 3 endpoints: the remnant goes to index 0, not 1', three, 1, 2, ['2']],
    ['idx=0 of 2, 3 endpoints: its slice and the remnant', three, 0, 2, ['1', '3']],
    ['6 pods, 4 activators, idx 0: one pod and the first remnant', ['ip0', 'ip1', 'ip2', 'ip3', 'ip4', 'ip5'], 0, 4, ['ip0', 'ip4']],
    ['6 pods, 4 activators, idx 1', ['ip0', 'ip1', 'ip2', 'ip3', 'ip4', 'ip5'], 1, 4, ['ip1', 'ip5']],
    ['6 pods, 4 activators, idx 3: no remnant left for it', ['ip0', 'ip1', 'ip2', 'ip3', 'ip4', 'ip5'], 3, 4, ['ip3']],
    ['2 pods, 2 activators, idx 0', ['a', 'b'], 0, 2, ['a']],
    ['5 pods, 2 activators, idx 0: 2 + 1', ['a', 'b', 'c', 'd', 'e'], 0, 2, ['a', 'b', 'e']],
    ['5 pods, 2 activators, idx 1: 2', ['a', 'b', 'c', 'd', 'e'], 1, 2, ['c', 'd']],
    ['2 pods, 3 activators, idx 2: round robin shares a pod', ['a', 'b'], 2, 3, ['a']],
  ] as [string, string[], number, number, string[]][])('%s', (_label, sorted, idx, acts, share) => {
    expect(assignSlice(sorted, idx, acts)).toEqual(share);
  });

  it('returns a copy, never the caller\'s array', () => {
    const sorted = ['a', 'b'];
    expect(assignSlice(sorted, -1, 2)).not.toBe(sorted);
  });
});

describe('Target with peers: its share of the ready endpoints (Knative\'s assignedTrackers)', () => {
  it('with a limit and 2 activators, each uses its half of 4 endpoints, sorted by id whatever the order they came in', () => {
    const shuffled = [endpoints(4)[2], endpoints(4)[0], endpoints(4)[3], endpoints(4)[1]];
    const [a, b] = [target(2), target(2)];
    a.setPeers(0, 2);
    b.setPeers(1, 2);
    a.setEndpoints(shuffled);
    b.setEndpoints(endpoints(4));
    expect(ids(a.assignedEndpoints)).toEqual([dest(1), dest(2)]);
    expect(ids(b.assignedEndpoints)).toEqual([dest(3), dest(4)]);
    expect(a.readyEndpoints.length).toBe(4);
    expect(fill(a)).toEqual(new Map([[dest(1), 2], [dest(2), 2]]));
  });

  it.each([
    ['no limit (cc 0): every endpoint, as Knative assigns every tracker', 0, 0, 2, 4, 4],
    ['peers unknown (-1): every endpoint', 2, -1, 2, 4, 4],
    ['a single activator: every endpoint', 2, 0, 1, 4, 4],
    ['a single endpoint: it, for every activator (the limit holds per activator)', 2, 1, 2, 1, 1],
    ['fewer endpoints than activators: one each, round robin', 2, 2, 3, 2, 1],
  ])('%s', (_label, cc, idx, count, n, assigned) => {
    const t = target(cc);
    t.setPeers(idx, count);
    t.setEndpoints(endpoints(n));
    expect(t.assignedEndpoints.length).toBe(assigned);
  });

  it('is recomputed when endpoints come and go: 4 → 5 (a remnant for index 0) → 1', () => {
    const t = target(1);
    t.setPeers(0, 2);
    t.setEndpoints(endpoints(4));
    expect(ids(t.assignedEndpoints)).toEqual([dest(1), dest(2)]);
    t.setEndpoints(endpoints(5));
    expect(ids(t.assignedEndpoints)).toEqual([dest(1), dest(2), dest(5)]);
    t.setEndpoints(endpoints(1));
    expect(ids(t.assignedEndpoints)).toEqual([dest(1)]);
  });

  it('is recomputed when an endpoint turns unready, and when a limit is set or lifted', () => {
    const t = target(0);
    t.setPeers(1, 2);
    t.setEndpoints(endpoints(4));
    expect(t.assignedEndpoints.length).toBe(4);
    t.update({ ...t.spec, containerConcurrency: 3 });
    expect(ids(t.assignedEndpoints)).toEqual([dest(3), dest(4)]);
    t.setReady([...t.endpoints][0], false);
    // 3 ready: index 0 has 10.0.0.2 and the remnant 10.0.0.4; index 1 has 10.0.0.3.
    expect(ids(t.assignedEndpoints)).toEqual([dest(3)]);
    t.update({ ...t.spec, containerConcurrency: 0 });
    expect(t.assignedEndpoints.length).toBe(3);
  });

  it('a peer change: requests in flight on an endpoint that left the share finish there; waiting ones go to the new share', () => {
    const t = target(1);
    t.setPeers(0, 2);
    t.setEndpoints(endpoints(4));
    const first = [t.acquire()!, t.acquire()!];
    expect(ids(first).sort()).toEqual([dest(1), dest(2)]);
    const granted: Endpoint[] = [];
    const waiters = [0, 1, 2].map(() => new Waiter((e) => granted.push(e), () => undefined, 0));
    for (const w of waiters) t.hold(w);
    // The other activator went away: this one is 0 of 1 and takes every endpoint.
    t.setPeers(0, 1);
    expect(ids(granted).sort()).toEqual([dest(3), dest(4)]);
    expect(t.held).toBe(1);
    // Now it is 1 of 2: 10.0.0.1 and .2 are someone else's. Their requests finish; the waiter is not sent there.
    t.setPeers(1, 2);
    t.release(first[0]);
    t.release(first[1]);
    expect(first.map((e) => e.inFlight)).toEqual([0, 0]);
    expect(granted.length).toBe(2);
    t.release(granted[0]);
    expect(granted.length).toBe(3);
    expect(granted[2]).toBe(granted[0]);
  });

  it('rejects an index outside the count', () => {
    expect(() => target(1).setPeers(2, 2)).toThrow(RangeError);
    expect(() => target(1).setPeers(-2, 2)).toThrow(RangeError);
    expect(() => target(1).setPeers(0, 0)).toThrow(RangeError);
    expect(() => target(1).setPeers(-1, 0)).not.toThrow();
  });

  it('property: over any endpoints and peer count, the shares of all activators are disjoint and cover every endpoint (endpoints ≥ activators), so all their slots together never exceed cc on an endpoint', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 65535 })), { maxLength: 40, selector: ([h, p]) => `${h}:${p}` }),
      fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 2 ** 31 - 2 }),
      (addrs, count, cc, seed) => {
        let state = seed;
        const random = () => (state = (state * 48271) % 2147483647);
        const all = addrs.map(([h, port]) => ({ host: `10.1.${h >> 4}.${h}`, port, ready: true }));
        const slots = new Map<string, number>();
        const shares: string[][] = [];
        for (let i = 0; i < count; i++) {
          // Each activator hears of the endpoints in its own order.
          const mine = [...all];
          for (let j = mine.length - 1; j > 0; j--) {
            const k = random() % (j + 1);
            [mine[j], mine[k]] = [mine[k], mine[j]];
          }
          const t = target(cc);
          t.setPeers(i, count);
          t.setEndpoints(mine);
          shares.push(ids(t.assignedEndpoints));
          for (const [id, n] of fill(t)) slots.set(id, (slots.get(id) ?? 0) + n);
        }
        const covered = shares.flat();
        expect(new Set(covered).size).toBe(all.length);
        if (all.length >= count) {
          expect(covered.length).toBe(all.length); // disjoint
          for (const n of slots.values()) expect(n).toBeLessThanOrEqual(cc);
          expect([...slots.values()].reduce((a, b) => a + b, 0)).toBe(all.length * cc);
          // Shares differ in size by at most one.
          const sizes = shares.map((s) => s.length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        } else if (all.length > 0) {
          // Fewer endpoints than activators: one each, so the limit holds per activator only.
          for (const s of shares) expect(s.length).toBe(1);
        }
      },
    ));
  });
});

describe('RequestRouter.setPeers', () => {
  it('applies to the targets it has and to those configured later', () => {
    const r = new RequestRouter({ maxHeld: 10 }, () => 0);
    const a = { namespace: 'ns', name: 'a' };
    const b = { namespace: 'ns', name: 'b' };
    r.configure([{ key: a, hosts: ['a'], pathPrefix: '/', containerConcurrency: 1 }]);
    expect(r.peers).toEqual(UNKNOWN_PEERS);
    r.setPeers(1, 2);
    r.configure([{ key: a, hosts: ['a'], pathPrefix: '/', containerConcurrency: 1 }, { key: b, hosts: ['b'], pathPrefix: '/', containerConcurrency: 1 }]);
    r.setEndpoints(a, endpoints(4));
    r.setEndpoints(b, endpoints(4));
    expect(ids(r.get(a)!.assignedEndpoints)).toEqual([dest(3), dest(4)]);
    expect(ids(r.get(b)!.assignedEndpoints)).toEqual([dest(3), dest(4)]);
    expect(() => r.setPeers(3, 2)).toThrow(RangeError);
    expect(r.peers).toEqual({ selfIndex: 1, count: 2 });
  });
});

function peerSlice(addresses: [string, boolean | undefined][], extra: Partial<V1EndpointSlice> = {}, service = 'kpa-activator'): V1EndpointSlice {
  return {
    metadata: { name: `${service}-x`, namespace: 'kpa-system', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: addresses.map(([a, ready]) => ({ addresses: [a], conditions: ready === undefined ? {} : { ready } })),
    ...extra,
  };
}

describe('peersFromEndpointSlices: the activator Service\'s ready addresses, sorted (Knative\'s inferIndex)', () => {
  const myIP = '10.10.10.3';
  it.each([
    // Knative throttler_test.go TestInferIndex
    ['empty', [], -1],
    ['missing', ['11.11.11.11', '11.11.11.12'], -1],
    ['first', ['10.10.10.3', '11.11.11.11'], 0],
    ['middle', ['11.11.11.11', '10.10.10.2', '10.10.10.3', '10.10.10.1'], 2],
    ['last', ['10.10.10.1', '10.10.10.2', '10.10.10.3'], 2],
  ] as [string, string[], number][])('%s', (_label, ips, index) => {
    const v = peersFromEndpointSlices([peerSlice(ips.map((ip) => [ip, true]))], 'kpa-activator', myIP);
    expect(v.selfIndex).toBe(index);
    expect(v.count).toBe(ips.length);
    expect(v.addresses).toEqual([...ips].sort());
  });

  it('skips not-ready addresses (unknown readiness counts as ready), other Services\' slices and the other address family; counts a pod once', () => {
    const v = peersFromEndpointSlices([
      peerSlice([['10.0.0.9', false], ['10.0.0.2', undefined], ['10.0.0.1', true]]),
      peerSlice([['10.0.0.1', true]]), // a pod in two slices while the controller moves it
      peerSlice([['10.0.0.5', true]], {}, 'kpa'),
      peerSlice([['fd00::1', true]], { addressType: 'IPv6' }),
    ], 'kpa-activator', '10.0.0.2');
    expect(v).toEqual({ addresses: ['10.0.0.1', '10.0.0.2'], count: 2, selfIndex: 1 });
  });

  it('an IPv6 pod IP reads the IPv6 slices; no pod IP is never found', () => {
    const slices = [peerSlice([['10.0.0.1', true]]), peerSlice([['fd00::2', true], ['fd00::1', true]], { addressType: 'IPv6' })];
    expect(peersFromEndpointSlices(slices, 'kpa-activator', 'fd00::2')).toMatchObject({ count: 2, selfIndex: 1 });
    expect(peersFromEndpointSlices(slices, 'kpa-activator', undefined)).toMatchObject({ count: 1, selfIndex: -1 });
  });
});

describe('nextPeerView: Knative\'s handlePubEpsUpdate', () => {
  it('counts peers but keeps the index unknown until this activator is listed', () => {
    expect(nextPeerView(UNKNOWN_PEERS, { selfIndex: -1, count: 2 })).toEqual({ selfIndex: -1, count: 2 });
    expect(nextPeerView({ selfIndex: -1, count: 2 }, { selfIndex: 2, count: 3 })).toEqual({ selfIndex: 2, count: 3 });
  });

  it('once it has an index, an update that leaves it out (it is draining) is ignored: it keeps its share', () => {
    expect(nextPeerView({ selfIndex: 0, count: 3 }, { selfIndex: -1, count: 2 })).toEqual({ selfIndex: 0, count: 3 });
    expect(nextPeerView({ selfIndex: 0, count: 3 }, { selfIndex: 1, count: 2 })).toEqual({ selfIndex: 1, count: 2 });
  });
});
