import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatClient } from '../../src/metrics/statClient.js';
import type { RevisionStat } from '../../src/metrics/wireStats.js';
import { failoverBoundSeconds } from '../../src/k8s/leaderElection.js';
import { BucketSet, bucketNames } from '../../src/sharding/bucketSet.js';
import { spawnKpa, type KpaProcess } from '../helpers/cliHarness.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { tempDir } from '../helpers/tempDir.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer, type StoredObject } from './apiServer.js';
import { APP_NAMESPACE, configAutoscaler, OWN_NAMESPACE, pod, replicasOf } from './cluster.js';

/**
 * Three built kpa processes with --buckets 10 against the API test server,
 * each on its own loopback address (as pods on their own IPs) with the same
 * stats port, sharing 3,000 idle Deployments fed by activator stats and a few
 * busy ones scraped from their pods.
 */
const IDLE = 3000;
const BUSY = 6;
const BUCKETS = bucketNames(10);
const REPLICAS = [
  { name: 'kpa-a', host: '127.0.0.1' },
  { name: 'kpa-b', host: '127.0.0.2' },
  { name: 'kpa-c', host: '127.0.0.3' },
];
const identity = (r: { name: string; host: string }) => `${r.name}_${r.host}`;

let api: FakeApiServer;
let qp: QueueProxyServer;
let statsPort: number;
const kpas = new Map<string, KpaProcess>();
/** Scale patches: Deployment → the replicas (by bearer token) that patched it, and to what. */
const patches = new Map<string, { user: string; replicas: number; at: number }[]>();

function idleDeployment(i: number): StoredObject {
  return {
    metadata: {
      name: `idle-${i}`, namespace: APP_NAMESPACE,
      annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/container-concurrency': '10', 'kpa.dev/metrics-source': 'activator' },
    },
    spec: { replicas: 0, selector: { matchLabels: { app: `idle-${i}` } }, template: {} },
  };
}

function busyDeployment(i: number): StoredObject {
  return {
    metadata: {
      name: `busy-${i}`, namespace: APP_NAMESPACE,
      // A 300 s window: idle, they would rightly scale down a stable window after their decider starts; not during this test.
      annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/container-concurrency': '10', 'kpa.dev/metrics-port': String(qp.port), 'autoscaling.knative.dev/window': '300s' },
    },
    spec: { replicas: 3, selector: { matchLabels: { app: `busy-${i}` } }, template: {} },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function kubeconfigFor(user: string): string {
  const file = join(tempDir('kube'), 'config');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', 'current-context: t',
    `clusters: [{name: t, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]`,
    `users: [{name: u, user: {token: ${user}}}]`,
    'contexts: [{name: t, context: {cluster: t, user: u}}]',
  ].join('\n'));
  return file;
}

async function start(r: { name: string; host: string }): Promise<KpaProcess> {
  const kpa = await spawnKpa(['run', '--buckets', String(BUCKETS.length), '--host', r.host, '--http-port', '0', '--stats-port', String(statsPort)], {
    ...process.env, KUBECONFIG: kubeconfigFor(r.name), HOME: tempDir('home'), POD_NAME: r.name, POD_IP: r.host, POD_NAMESPACE: OWN_NAMESPACE,
  });
  kpas.set(r.name, kpa);
  return kpa;
}

/** Each bucket's holder identity and timestamps, from the Leases in the API server. */
function leases(): Map<string, { holder: string; acquireTime: string; renewTime: string; transitions: number }> {
  return new Map(BUCKETS.map((b) => {
    const spec = (api.get('leases', OWN_NAMESPACE, b)?.spec ?? {}) as { holderIdentity?: string; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
    return [b, { holder: spec.holderIdentity ?? '', acquireTime: spec.acquireTime ?? '', renewTime: spec.renewTime ?? '', transitions: spec.leaseTransitions ?? 0 }];
  }));
}

function heldBy(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { holder } of leases().values()) if (holder) counts.set(holder, (counts.get(holder) ?? 0) + 1);
  return counts;
}

async function metric(kpa: KpaProcess, host: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`http://${host}:${kpa.port}/metrics`)).text();
  const m = line.exec(text);
  return m ? Number(m[1]) : NaN;
}

async function sendStats(host: string, stats: RevisionStat[]): Promise<void> {
  const client = await StatClient.connect(`ws://${host}:${statsPort}/`);
  for (let i = 0; i < stats.length; i += 500) await client.send(stats.slice(i, i + 500));
  await client.close();
}

const bucketSet = new BucketSet(BUCKETS);
const ownerOf = (name: string) => leases().get(bucketSet.bucketOf(APP_NAMESPACE, name))!.holder;

beforeAll(async () => {
  api = await FakeApiServer.start();
  qp = await QueueProxyServer.start();
  qp.set('metrics', stat(0)); // the busy ones' pods report no load: a decider created without the restart guard would scale them down
  statsPort = await freePort();
  api.put('configmaps', configAutoscaler({}));
  for (let i = 0; i < IDLE; i++) api.put('deployments', idleDeployment(i));
  for (let i = 0; i < BUSY; i++) {
    api.put('deployments', busyDeployment(i));
    for (let p = 0; p < 3; p++) api.put('pods', pod(`busy-${i}`, p));
  }
  api.onRequest = (call, body, user) => {
    if (call.verb !== 'patch' || call.subresource !== 'scale' || !call.name) return;
    const replicas = (body as { spec?: { replicas?: number } }).spec?.replicas ?? -1;
    const list = patches.get(call.name) ?? [];
    list.push({ user, replicas, at: Date.now() });
    patches.set(call.name, list);
  };
  await Promise.all(REPLICAS.map(start));
}, 60_000);

afterAll(async () => {
  for (const k of kpas.values()) k.kill();
  await qp?.close();
  await api?.close();
});

describe('three kpa replicas sharing 3,006 Deployments by bucket Leases', () => {
  it('split the ten buckets 4/3/3, and every replica is Ready', async () => {
    await until(() => [...heldBy().values()].sort().join() === '3,3,4' && heldBy().size === 3, 30_000, () => `buckets never settled: ${JSON.stringify([...heldBy()])}`);
    for (const r of REPLICAS) {
      const base = `http://${r.host}:${kpas.get(r.name)!.port}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      // Each says which buckets it holds, by number, as its Leases do.
      const { replica } = (await (await fetch(`${base}/api/revisions?limit=1`)).json()) as { replica: { identity: string; buckets: string[]; bucketCount: number } };
      const held = BUCKETS.map((b, i) => [b, i] as const).filter(([b]) => leases().get(b)!.holder === identity(r)).map(([, i]) => String(i).padStart(2, '0'));
      expect(replica).toEqual({ identity: identity(r), buckets: held, bucketCount: 10 });
    }
  }, 40_000);

  it('stats sent to one replica reach each revision\'s owner, and each Deployment is patched once, by its owner', async () => {
    // Everything through kpa-a: a third is its own, the rest it forwards.
    const stats = Array.from({ length: IDLE }, (_, i) => ({ key: { namespace: APP_NAMESPACE, name: `idle-${i}` }, stat: stat(2, 2, 'activator-0') })); // 1 pod at target 7, even if two land in one second
    const transitionsBefore = new Map([...leases()].map(([b, l]) => [b, l.transitions]));
    // As an activator does: every revision's stat every second, until each owner has scaled its revisions from zero.
    const unscaled = () => Array.from({ length: IDLE }, (_, i) => i).filter((i) => replicasOf(api, `idle-${i}`) !== 1).length;
    for (const end = Date.now() + 40_000; unscaled() > 0 && Date.now() < end;) {
      await sendStats(REPLICAS[0].host, stats);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(unscaled(), 'idle Deployments not scaled from zero').toBe(0);
    const owners = new Map(REPLICAS.map((r) => [identity(r), r.name]));
    const moved = new Set(BUCKETS.filter((b) => leases().get(b)!.transitions !== transitionsBefore.get(b)));
    const wrong: string[] = [];
    for (let i = 0; i < IDLE; i++) {
      const name = `idle-${i}`;
      const made = patches.get(name) ?? [];
      // No two replicas patch one Deployment within a tick of each other, ever.
      for (let j = 1; j < made.length; j++) {
        if (made[j].user !== made[j - 1].user && made[j].at - made[j - 1].at < 2000) wrong.push(`${name}: two replicas within a tick: ${JSON.stringify(made)}`);
      }
      // Where its bucket stayed put: one patch, by the owner.
      if (!moved.has(bucketSet.bucketOf(APP_NAMESPACE, name)) && (made.length !== 1 || made[0].user !== owners.get(ownerOf(name)) || made[0].replicas !== 1)) {
        wrong.push(`${name}: ${JSON.stringify(made)} (owner ${ownerOf(name)})`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(moved.size, 'buckets that changed hands while the stats flowed (a starved machine: renewals missed)').toBeLessThan(BUCKETS.length);
    // Each replica owns about a third (its buckets' share of 3,006), and forwarded or kept what it got.
    const owned = await Promise.all(REPLICAS.map((r) => metric(kpas.get(r.name)!, r.host, /^kpa_revisions\{owned="true"\} (\d+)/m)));
    expect(owned.reduce((a, b) => a + b, 0)).toBe(IDLE + BUSY);
    for (const n of owned) expect(n / (IDLE + BUSY)).toBeGreaterThan(0.2);
    // kpa-a forwarded what it does not own (a whole multiple of its non-owned share per round sent) and dropped nothing.
    const forwarded = await metric(kpas.get('kpa-a')!, REPLICAS[0].host, /^kpa_stats_forwarded_total (\d+)/m);
    expect(forwarded).toBeGreaterThanOrEqual(IDLE - [...Array(IDLE).keys()].filter((i) => ownerOf(`idle-${i}`) === identity(REPLICAS[0])).length);
    expect(await metric(kpas.get('kpa-a')!, REPLICAS[0].host, /^kpa_stats_forward_dropped_total\{reason="no-owner"\} (\d+)/m)).toBe(0);
  }, 60_000);

  it('a replica killed with SIGKILL has its buckets taken within 15 s, and the takeover scales no busy revision down', async () => {
    // The replica owning the most busy Deployments.
    const busyOwners = Array.from({ length: BUSY }, (_, i) => ownerOf(`busy-${i}`));
    const victim = REPLICAS.map(identity).sort((a, b) => busyOwners.filter((o) => o === b).length - busyOwners.filter((o) => o === a).length)[0];
    const victimName = victim.split('_')[0];
    const before = leases();
    const victimBuckets = BUCKETS.filter((b) => before.get(b)!.holder === victim);
    kpas.get(victimName)!.child.kill('SIGKILL');
    await until(() => victimBuckets.every((b) => { const h = leases().get(b)!.holder; return h !== '' && h !== victim; }), 30_000, 'the dead replica\'s buckets were never taken');
    const after = leases();
    for (const b of victimBuckets) {
      // From the dead holder's last renewal to the new holder's acquisition, as the Lease records them.
      const gap = (Date.parse(after.get(b)!.acquireTime) - Date.parse(before.get(b)!.renewTime)) / 1000;
      // The bound is 15 s (failoverBoundSeconds); a second more for timers that fire late on a loaded 2-core machine.
      expect(gap, `${b} taken ${gap} s after the last renewal`).toBeLessThanOrEqual(failoverBoundSeconds() + 1);
    }
    const takeover = Date.now();
    await new Promise((r) => setTimeout(r, 5000)); // two ticks of the new owners
    for (let i = 0; i < BUSY; i++) {
      expect(replicasOf(api, `busy-${i}`)).toBe(3);
      expect((patches.get(`busy-${i}`) ?? []).filter((p) => p.at >= takeover - 15_000)).toEqual([]);
    }
  }, 60_000);
});
