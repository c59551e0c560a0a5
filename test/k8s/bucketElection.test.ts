import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BucketElection, MEMBER_LABEL } from '../../src/k8s/bucketElection.js';
import { silentLogger } from '../../src/log.js';
import { bucketNames } from '../../src/sharding/bucketSet.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer } from './apiServer.js';
import { kubeConfigFor, OWN_NAMESPACE } from './cluster.js';

let api: FakeApiServer;
const running: BucketElection[] = [];
const BUCKETS = bucketNames(10);

/** Timings scaled down from 10/7/2 s: a lease of 1 s, renewed every 0.1 s. */
function replica(name: string): BucketElection {
  const e = new BucketElection({
    api: kubeConfigFor(api).makeApiClient(CoordinationV1Api), namespace: OWN_NAMESPACE, identity: `${name}_10.0.0.${running.length + 1}`,
    buckets: BUCKETS, clock: { now: () => Date.now() / 1000 }, logger: silentLogger(),
    leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
  });
  running.push(e);
  e.start();
  return e;
}

/** Each bucket's holder as the Leases in the API server say. */
function leaseHolders(): Map<string, string> {
  return new Map(BUCKETS.map((b) => [b, ((api.get('leases', OWN_NAMESPACE, b)?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? '')]));
}

const sizes = (all: BucketElection[]) => all.map((e) => e.heldBuckets().size).sort();
/** Every bucket held by exactly one replica, as the replicas themselves believe. */
function exclusive(all: BucketElection[]): boolean {
  const held = all.flatMap((e) => [...e.heldBuckets()]);
  return held.length === BUCKETS.length && new Set(held).size === BUCKETS.length;
}

beforeEach(async () => {
  api = await FakeApiServer.start();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
  await api.close();
});

describe('bucketed leader election', () => {
  it('three replicas split ten buckets 4/3/3, each bucket held by one, the holders in the Leases as POD_NAME_POD_IP', async () => {
    const all = [replica('kpa-a'), replica('kpa-b'), replica('kpa-c')];
    await until(() => exclusive(all) && sizes(all).join() === '3,3,4', 10_000, () => `buckets never settled: ${sizes(all)}`);
    const holders = leaseHolders();
    const ids = ['kpa-a_10.0.0.1', 'kpa-b_10.0.0.2', 'kpa-c_10.0.0.3'];
    all.forEach((e, i) => {
      for (const b of e.heldBuckets()) expect(holders.get(b)).toBe(ids[i]);
    });
    expect(new Set(holders.values())).toEqual(new Set(ids));
    // Every replica sees who holds what: the forwarder's routing table.
    await until(() => all.every((e) => BUCKETS.every((b) => e.holderOf(b) === holders.get(b))), 2000, 'a replica never saw the holders');
    expect(all[0].liveMembers()).toEqual(ids);
  });

  it('a replica that joins later gets its share handed over', async () => {
    const first = replica('kpa-a');
    await until(() => first.heldBuckets().size === 10, 5000);
    const second = replica('kpa-b');
    await until(() => exclusive([first, second]) && sizes([first, second]).join() === '5,5', 10_000, () => `never split: ${sizes([first, second])}`);
  });

  it('a replica that dies (no release) has its buckets taken within the failover bound; one that stops releases them at once', async () => {
    const all = [replica('kpa-a'), replica('kpa-b'), replica('kpa-c')];
    await until(() => exclusive(all) && sizes(all).join() === '3,3,4', 10_000);
    const [dead, ...alive] = all;
    const deadHeld = [...dead.heldBuckets()];
    running.splice(running.indexOf(dead), 1);
    await dead.stop({ release: false }); // as SIGKILL: nothing released, the Leases expire
    const killedAt = Date.now();
    await until(() => exclusive(alive), 5000);
    // Lease 1 s, retry 0.1 s: the bound is lease + 2 retries (1.2 s), plus a second for a loaded machine.
    expect(Date.now() - killedAt).toBeLessThan(2500);
    await until(() => exclusive(alive) && sizes(alive).join() === '5,5', 5000, () => `never split: ${sizes(alive)}`);
    for (const b of deadHeld) expect(alive.some((e) => e.heldBuckets().has(b))).toBe(true);

    const [leaving, staying] = alive;
    running.splice(running.indexOf(leaving), 1);
    await leaving.stop();
    const stoppedAt = Date.now();
    await until(() => staying.heldBuckets().size === 10, 5000);
    // Released, not expired: taken at the next retries, well inside the 1 s lease.
    expect(Date.now() - stoppedAt).toBeLessThan(900);
    // Its membership Lease went with it; the dead one's is still there until it is tidied.
    const members = api.objectsOf('leases', OWN_NAMESPACE).filter((l) => l.metadata.labels?.[MEMBER_LABEL] === 'kpa').map((l) => l.metadata.name).sort();
    expect(members).toEqual(['kpa-replica-kpa-a', 'kpa-replica-kpa-c']);
  });
});
