import type { CoordinationV1Api, V1Lease, V1LeaseList } from '@kubernetes/client-node';
import fc from 'fast-check';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BucketElection, MEMBER_LABEL } from '../../src/k8s/bucketElection.js';
import { DEFAULT_LEASE_TIMING, failoverBoundSeconds } from '../../src/k8s/leaderElection.js';
import { type Logger, silentLogger } from '../../src/log.js';
import { bucketNames } from '../../src/sharding/bucketSet.js';

/**
 * Bucket ownership under random replica kills (no release), graceful stops,
 * restarts and API faults (errors, hung requests), in virtual time with the
 * real timings (10/7/2 s): no bucket ever has two replicas that believe they
 * hold it, and once the faults are over every bucket has an owner within 15 s.
 */

type Mode = 'ok' | 'error' | 'hang';

/** The coordination API as the API server serves it: resourceVersions, 409 on a stale replace, 404, label-selected lists. */
class LeaseStore {
  readonly leases = new Map<string, V1Lease>();
  /** Faults by replica: one replica cut off from the API server (or all of them, an API server outage). */
  readonly modes: Mode[] = [];
  private rv = 1;

  private answer<T>(mode: Mode, f: () => T): Promise<T> {
    if (mode === 'hang') return new Promise<T>(() => undefined);
    return new Promise<T>((resolve, reject) => setTimeout(() => {
      if (mode === 'error') return reject(Object.assign(new Error('injected 500'), { code: 500 }));
      try {
        resolve(structuredClone(f()));
      } catch (err) {
        reject(err);
      }
    }, 5));
  }

  private notFound(name: string): never {
    throw Object.assign(new Error(`leases "${name}" not found`), { code: 404 });
  }

  /** The API as replica `i` reaches it. */
  api(i: number): CoordinationV1Api {
    const store = this;
    const answer = <T>(f: () => T) => store.answer(store.modes[i] ?? 'ok', f);
    return {
      readNamespacedLease: ({ name }: { name: string }) => answer(() => store.leases.get(name) ?? store.notFound(name)),
      createNamespacedLease: ({ body }: { body: V1Lease }) => answer(() => {
        const name = body.metadata!.name!;
        if (store.leases.has(name)) throw Object.assign(new Error('exists'), { code: 409 });
        const created = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(store.rv++) } };
        store.leases.set(name, created);
        return created;
      }),
      replaceNamespacedLease: ({ name, body }: { name: string; body: V1Lease }) => answer(() => {
        const current = store.leases.get(name) ?? store.notFound(name);
        if (body.metadata?.resourceVersion !== current.metadata?.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
        const replaced = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(store.rv++) } };
        store.leases.set(name, replaced);
        return replaced;
      }),
      listNamespacedLease: ({ labelSelector }: { labelSelector?: string }) => answer((): V1LeaseList => {
        const [k, v] = (labelSelector ?? '').split('=');
        return { items: [...store.leases.values()].filter((l) => !k || l.metadata?.labels?.[k] === v) };
      }),
      deleteNamespacedLease: ({ name }: { name: string }) => answer(() => {
        if (!store.leases.delete(name)) store.notFound(name);
        return {};
      }),
    } as unknown as CoordinationV1Api;
  }
}

const BUCKETS = bucketNames(5);
const IDS = ['kpa-a_10.0.0.1', 'kpa-b_10.0.0.2', 'kpa-c_10.0.0.3'];

type Step =
  | { kind: 'wait'; seconds: number }
  | { kind: 'kill' | 'stop' | 'start'; replica: number }
  | { kind: 'fault'; mode: Exclude<Mode, 'ok'>; seconds: number; replica: number | 'all' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constantFrom('kill' as const, 'stop' as const, 'start' as const), replica: fc.integer({ min: 0, max: IDS.length - 1 }) }),
  fc.record({
    kind: fc.constant('fault' as const), mode: fc.constantFrom('error' as const, 'hang' as const), seconds: fc.integer({ min: 1, max: 25 }),
    replica: fc.oneof(fc.constant('all' as const), fc.integer({ min: 0, max: IDS.length - 1 })),
  }),
);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_800_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('bucket ownership (property)', () => {
  it('never two holders of a bucket at once; every bucket owned within 15 s of the last disruption', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 8 }), (steps) => scenario(steps)), { numRuns: Number(process.env.KPA_PROPERTY_RUNS ?? 30) });
  }, 120_000);

  it.each<[string, Step[]]>([
    // Replicas started together looked in the same order every period: one lost every race for a free bucket.
    ['three replicas start together, then the API server hangs for 16 s', [{ kind: 'kill', replica: 2 }, { kind: 'start', replica: 2 }, { kind: 'fault', mode: 'hang', seconds: 16, replica: 'all' }]],
    ['a 33 s outage, errors then hung requests', [
      { kind: 'wait', seconds: 8 }, { kind: 'start', replica: 2 }, { kind: 'stop', replica: 0 }, { kind: 'wait', seconds: 6 },
      { kind: 'fault', mode: 'error', seconds: 14, replica: 'all' }, { kind: 'fault', mode: 'hang', seconds: 19, replica: 'all' },
    ]],
    ['one replica\'s requests hang for 1 s while the other dies', [{ kind: 'fault', mode: 'hang', seconds: 1, replica: 1 }, { kind: 'kill', replica: 0 }]],
  ])('fast-check\'s counterexample: %s', async (_name, steps) => {
    await scenario(steps);
  }, 60_000);

  it('a replica back from a partition does not keep a share for one that died meanwhile (fast-check\'s counterexample in CI)', async () => {
    // Its membership Lease, first seen after the partition, was already a lease duration old: the
    // survivor kept handing buckets over to it, and some stayed unowned past 15 s.
    await scenario([
      { kind: 'fault', mode: 'error', seconds: 1, replica: 0 },
      { kind: 'fault', mode: 'hang', seconds: 11, replica: 1 },
      { kind: 'kill', replica: 0 },
    ]);
  }, 60_000);
});

describe.runIf(process.env.KPA_REPLAY_STEPS)('bucket ownership: one sequence, with the replicas\' logs', () => {
  it('replays KPA_REPLAY_STEPS (a counterexample\'s JSON)', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info', timestamp: () => `,"vt":${(Date.now() - 1_800_000_000_000) / 1000}` }, { write: (l: string) => lines.push(l.trim()) });
    try {
      await scenario(JSON.parse(process.env.KPA_REPLAY_STEPS!) as Step[], logger);
    } finally {
      console.log(lines.join('\n'));
    }
  }, 120_000);
});

/** Runs one sequence of steps; `logger` sees the replicas' logs (for a counterexample's story). */
async function scenario(steps: Step[], logger: Logger = silentLogger()): Promise<void> {
  {
    {
      const store = new LeaseStore();
      const replicas: (BucketElection | null)[] = IDS.map(() => null);
      const start = (i: number) => {
        if (replicas[i]) return;
        replicas[i] = new BucketElection({
          api: store.api(i), namespace: 'kpa-system', identity: IDS[i], buckets: BUCKETS,
          clock: { now: () => Date.now() / 1000 }, logger: logger.child({ replica: i }),
        });
        replicas[i]!.start();
      };
      const violations: string[] = [];
      /** Advances virtual time in 250 ms steps, checking that no bucket has two believing holders. */
      const advance = async (seconds: number) => {
        for (let t = 0; t < seconds * 4; t++) {
          await vi.advanceTimersByTimeAsync(250);
          for (const b of BUCKETS) {
            const holders = replicas.filter((r) => r?.heldBuckets().has(b));
            if (holders.length > 1) violations.push(`${b} held by ${replicas.map((r, i) => (r?.heldBuckets().has(b) ? i : -1)).filter((i) => i >= 0).join('+')} at ${Date.now() - 1_800_000_000_000} lease ${JSON.stringify(store.leases.get(b)?.spec)}`);
          }
        }
      };
      try {
        start(0);
        start(1);
        for (const s of steps) {
          if (s.kind === 'wait') await advance(s.seconds);
          else if (s.kind === 'start') start(s.replica);
          else if (s.kind === 'fault') {
            for (let i = 0; i < IDS.length; i++) if (s.replica === 'all' || s.replica === i) store.modes[i] = s.mode;
            await advance(s.seconds);
            store.modes.fill('ok');
          } else {
            const r = replicas[s.replica];
            replicas[s.replica] = null;
            // A kill stops renewing and releases nothing; a stop releases at once. Either way it no longer acts.
            if (r) {
              let done = false;
              void r.stop({ release: s.kind === 'stop' }).then(() => (done = true));
              for (let t = 0; t < 120 && !done; t++) await advance(0.25);
              expect(done, 'a stop that never ended').toBe(true);
            }
          }
        }
        if (replicas.every((r) => r === null)) start(2);
        // After the last disruption: every bucket owned within 15 s (the failover bound). After a hang, add the time
        // its requests still take to time out (the renew deadline, 7 s): a hung request does not come back when the
        // API server does, and the replica that sent it looks again only after it has timed out.
        const hung = steps.some((s) => s.kind === 'fault' && s.mode === 'hang');
        const bound = Math.max(15, failoverBoundSeconds()) + (hung ? DEFAULT_LEASE_TIMING.renewDeadlineSeconds : 0);
        let ownedAt = -1;
        for (let t = 0; t < bound * 4 && ownedAt < 0; t++) {
          await advance(0.25);
          if (BUCKETS.every((b) => replicas.some((r) => r?.heldBuckets().has(b)))) ownedAt = t / 4;
        }
        expect(violations).toEqual([]);
        expect(ownedAt, `some bucket had no owner ${bound} s after the last disruption`).toBeGreaterThanOrEqual(0);
        // Members' Leases carry the label the replicas find each other by.
        for (const l of store.leases.values()) if (l.metadata?.name?.startsWith('kpa-replica-')) expect(l.metadata.labels?.[MEMBER_LABEL]).toBe('kpa');
      } finally {
        store.modes.fill('ok');
        for (const r of replicas) if (r) void r.stop({ release: false });
        await vi.advanceTimersByTimeAsync(10_000);
      }
    }
  }
}
