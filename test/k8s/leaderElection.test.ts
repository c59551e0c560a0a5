import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startKubernetesRun } from '../../src/cli/runKubernetes.js';
import { DEFAULT_LEASE_TIMING, failoverBoundSeconds, LeaderElector } from '../../src/k8s/leaderElection.js';
import { silentLogger } from '../../src/log.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer } from './apiServer.js';
import { kubeConfigFor, OWN_NAMESPACE } from './cluster.js';

let api: FakeApiServer;
const electors: LeaderElector[] = [];

/** Durations scaled down from 15/10/2 s so failover is tested in about a second. */
function elector(identity: string): LeaderElector {
  const e = new LeaderElector({
    api: kubeConfigFor(api).makeApiClient(CoordinationV1Api), namespace: OWN_NAMESPACE, leaseName: 'kpa-leader', identity,
    clock: { now: () => Date.now() / 1000 }, logger: silentLogger(), leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
  });
  electors.push(e);
  return e;
}

beforeEach(async () => {
  api = await FakeApiServer.start();
});
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
  await api.close();
});

describe('leader election on a Lease', () => {
  it('the default timings fail over within 15 s, and a leader steps down before its lease could pass', () => {
    expect(failoverBoundSeconds()).toBeLessThanOrEqual(15);
    expect(DEFAULT_LEASE_TIMING.renewDeadlineSeconds).toBeLessThan(DEFAULT_LEASE_TIMING.leaseDurationSeconds);
  });

  it('elects one leader and fails over when it stops renewing', async () => {
    const a = elector('a');
    const b = elector('b');
    a.start();
    await until(() => a.isLeader);
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const lost = Date.now();
    await a.stop({ release: false }); // as if its pod died
    await until(() => b.isLeader, 5000);
    // The scaled-down bound (1 s lease, 0.1 s retries: 1.2 s), with a second of slack for a busy machine.
    expect(Date.now() - lost).toBeLessThan(failoverBoundSeconds({ leaseDurationSeconds: 1, retryPeriodSeconds: 0.1 }) * 1000 + 1000);
    await b.stop();
    const lease = await kubeConfigFor(api).makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'kpa-leader', namespace: OWN_NAMESPACE });
    expect(lease.spec?.holderIdentity).toBe(''); // released on a clean stop
  });

  it('three replicas starting together elect exactly one (create and update conflicts → 409)', async () => {
    const all = ['a', 'b', 'c'].map(elector);
    for (const e of all) e.start();
    await until(() => all.some((e) => e.isLeader));
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expect(all.filter((e) => e.isLeader).length).toBe(1);
    }
    expect(api.calls.some((c) => c.resource === 'leases' && c.verb === 'create')).toBe(true);
  });

  it('a leader whose lease requests hang steps down within the renew deadline, before the lease could pass to another', async () => {
    const a = elector('a');
    a.start();
    await until(() => a.isLeader);
    api.fail({ resource: 'leases', status: 500, delayMs: 3000, count: 100 }); // every lease request hangs for 3 s
    const from = Date.now();
    await until(() => !a.isLeader, 3000);
    expect(Date.now() - from).toBeLessThan(1000); // renew deadline 0.6 s < lease duration 1 s
  });

  it('a --dry-run shadow never takes the Lease, is ready, and an acting kpa started after it leads at once', async () => {
    const opts = {
      kubeConfig: kubeConfigFor(api), logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces: [],
      ownNamespace: OWN_NAMESPACE, leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
    };
    const shadow = await startKubernetesRun({ ...opts, dryRun: true, podName: 'kpa-shadow' });
    try {
      await new Promise((r) => setTimeout(r, 500)); // five retry periods: an elector would have taken the free lease by now
      expect(shadow.election).toBeNull();
      expect(api.calls.filter((c) => c.resource === 'leases')).toEqual([]);
      expect((await fetch(`http://127.0.0.1:${shadow.live.httpPort}/readyz`)).status).toBe(200);
      const acting = await startKubernetesRun({ ...opts, dryRun: false, podName: 'kpa-0' });
      try {
        await until(() => acting.election!.heldBuckets().size === 1, 2000);
      } finally {
        await acting.close();
      }
    } finally {
      await shadow.close();
    }
  });

  it('a replica without the lease is Ready (it takes and forwards stats), and owns the revisions once it holds the lease', async () => {
    api.put('leases', {
      metadata: { name: 'kpa-leader', namespace: OWN_NAMESPACE },
      spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 1, renewTime: new Date().toISOString(), leaseTransitions: 0 },
    });
    const run = await startKubernetesRun({
      kubeConfig: kubeConfigFor(api), logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces: [], dryRun: false,
      podName: 'kpa-1', ownNamespace: OWN_NAMESPACE, leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
    });
    try {
      const readyz = async () => (await fetch(`http://127.0.0.1:${run.live.httpPort}/readyz`)).status;
      expect(await readyz()).toBe(200);
      expect(run.election!.heldBuckets().size).toBe(0);
      await until(() => run.election!.heldBuckets().size === 1, 5000); // someone-else never renews
      expect(await readyz()).toBe(200);
    } finally {
      await run.close();
    }
  });
});
