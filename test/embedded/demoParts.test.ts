import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { ConcurrencyGate } from '../../src/embedded/concurrencyGate.js';
import { DemoDeployment } from '../../src/embedded/demoDeployment.js';
import { DEFAULT_SLOTS, demoHost, MAX_SLOTS, planRevisions } from '../../src/embedded/demoLayout.js';
import { DemoPod, POD_HEADER, POD_READY_AT_HEADER } from '../../src/embedded/demoPod.js';
import { DEMO_DIRECT_REVISIONS, DEMO_SCENARIO } from '../../src/embedded/demoScenario.js';
import { reservePorts } from '../../src/embedded/ports.js';
import { silentLogger } from '../../src/log.js';
import { Random } from '../../src/sim/random.js';
import { parseScenario } from '../../src/sim/scenario.js';
import { until } from '../helpers/wait.js';

describe('ConcurrencyGate (queue-proxy\'s breaker)', () => {
  it('serves up to the limit, then first come first served; a request that leaves while waiting gives up its place', () => {
    const gate = new ConcurrencyGate<string>(2);
    expect([gate.enter('a'), gate.enter('b'), gate.enter('c'), gate.enter('d'), gate.enter('e')]).toEqual([true, true, false, false, false]);
    expect(gate.cancel('d')).toBe(true);
    expect(gate.cancel('a')).toBe(false); // in service, not waiting
    expect(gate.leave()).toBe('c');
    expect(gate.leave()).toBe('e');
    expect(gate.leave()).toBeUndefined();
    expect([gate.inService, gate.waiting]).toEqual([1, 0]);
  });

  it('0 is no limit', () => {
    const gate = new ConcurrencyGate<number>(0);
    for (let i = 0; i < 1000; i++) expect(gate.enter(i)).toBe(true);
    expect(gate.waiting).toBe(0);
  });
});

describe('the demo\'s layout', () => {
  it('the built-in demo: diurnal scraped, the others behind the activator, one port per max-scale pod', () => {
    const plans = planRevisions(parseScenario(DEMO_SCENARIO), DEMO_DIRECT_REVISIONS);
    expect(plans.map((p) => [p.key.name, p.path, p.slots, p.host])).toEqual([
      ['flash-crowd', 'activator', 30, 'flash-crowd.demo.localhost'],
      ['diurnal', 'direct', 20, 'diurnal.demo.localhost'],
      ['idle-burst', 'activator', 20, 'idle-burst.demo.localhost'],
    ]);
  });

  it('a scenario file: every revision through the activator; no max-scale → the default, a huge one → the cap', () => {
    const plans = planRevisions(parseScenario(`
duration: 1m
revisions:
  - {name: a, workload: {constant: {rate: 1}}}
  - {name: b, namespace: shop, workload: {constant: {rate: 1}}, annotations: {autoscaling.knative.dev/max-scale: "1000"}}
`));
    expect(plans.map((p) => [p.path, p.slots, p.host])).toEqual([['activator', DEFAULT_SLOTS, 'a.demo.localhost'], ['activator', MAX_SLOTS, 'b.shop.demo.localhost']]);
  });

  it('host names are valid DNS labels whatever the revision is called', () => {
    expect(demoHost({ namespace: 'default', name: 'My App_v2' })).toBe('my-app-v2.demo.localhost');
  });
});

function get(port: number): Promise<{ status: number; pod: string; readyAt: number; at: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, pod: String(res.headers[POD_HEADER]), readyAt: Number(res.headers[POD_READY_AT_HEADER]), at: Date.now() }));
    });
    req.on('error', reject);
    req.end();
  });
}

function refused(port: number): Promise<boolean> {
  return get(port).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
}

describe('DemoPod over real sockets', () => {
  const pods: DemoPod[] = [];
  afterEach(async () => {
    await Promise.all(pods.splice(0).map((p) => p.destroy()));
  });
  const pod = (o: Partial<ConstructorParameters<typeof DemoPod>[0]> = {}): DemoPod => {
    const p = new DemoPod({
      name: 'app-1', host: '127.0.0.1', containerConcurrency: 0, serviceTime: () => 0.05, terminationGracePeriod: 5,
      clock: systemClock, logger: silentLogger(), onPhase: () => undefined, ...o,
    });
    pods.push(p);
    return p;
  };

  it('listens only after its cold start, and says who answered and since when', async () => {
    const [port] = await reservePorts(1, '127.0.0.1');
    const p = pod();
    const created = Date.now();
    p.schedule(port, 0.3);
    expect(await refused(port)).toBe(true);
    await p.started;
    expect(Date.now() - created).toBeGreaterThanOrEqual(280);
    const reply = await get(port);
    expect(reply).toMatchObject({ status: 200, pod: 'app-1' });
    expect(reply.readyAt).toBeGreaterThanOrEqual(created + 280);
  });

  it('serves at most containerConcurrency requests at once; queue-proxy\'s stat counts the waiting ones too', async () => {
    const [port] = await reservePorts(1, '127.0.0.1');
    const p = pod({ containerConcurrency: 2, serviceTime: () => 0.2 });
    p.schedule(port, 0);
    await p.started;
    p.closeSecond(systemClock.now());
    const start = Date.now();
    const replies = await Promise.all(Array.from({ length: 6 }, () => get(port)));
    const took = replies.map((r) => r.at - start).sort((a, b) => a - b);
    // Three rounds of two: ~200, ~400, ~600 ms.
    expect(took[1]).toBeLessThan(350);
    expect(took[2]).toBeGreaterThanOrEqual(380);
    expect(took[5]).toBeGreaterThanOrEqual(580);
    const stat = p.closeSecond(systemClock.now());
    expect(stat.requestCount).toBe(6);
    expect(stat.averageConcurrentRequests).toBeGreaterThan(0);
  });

  it('on termination stops listening at once, finishes what it has, then closes', async () => {
    const [port] = await reservePorts(1, '127.0.0.1');
    const phases: string[] = [];
    const p = pod({ serviceTime: () => 0.3, onPhase: (x) => phases.push(x.phase) });
    p.schedule(port, 0);
    await p.started;
    const inFlight = get(port);
    await until(() => p.inFlight === 1, 2000);
    p.terminate();
    expect(await refused(port)).toBe(true);
    expect((await inFlight).status).toBe(200);
    await until(() => p.phase === 'closed', 2000);
    expect(phases).toEqual(['starting', 'ready', 'terminating', 'closed']);
  });

  it('cuts requests still running when the grace period ends', async () => {
    const [port] = await reservePorts(1, '127.0.0.1');
    const p = pod({ serviceTime: () => 60, terminationGracePeriod: 0.2 });
    p.schedule(port, 0);
    await p.started;
    const cut = get(port).then(() => 'answered', () => 'cut');
    await until(() => p.inFlight === 1, 2000);
    p.terminate();
    expect(await cut).toBe('cut');
    expect(p.phase).toBe('closed');
  });
});

describe('DemoDeployment', () => {
  it('one pod per port: a pod created while every port is held by a terminating pod waits, and scale-down takes the newest first', async () => {
    const scenario = parseScenario(`
duration: 1m
revisions:
  - name: app
    annotations: {autoscaling.knative.dev/max-scale: "2"}
    workload: {constant: {rate: 1}}
    serviceTime: 1s
    pod: {coldStart: 0, schedulingDelay: 0, terminationGracePeriod: 5s}
`);
    const [plan] = planRevisions(scenario);
    const ports = await reservePorts(plan.slots, '127.0.0.1');
    const d = new DemoDeployment({ plan, ports, rng: new Random(1), clock: systemClock, logger: silentLogger(), onChange: () => undefined });
    try {
      await d.start(1);
      d.scale(5); // capped at the two ports
      expect(d.replicas).toBe(2);
      await until(() => d.readyPods().length === 2, 2000);
      // A request keeps the newest pod terminating for a while.
      const newest = d.readyPods()[1];
      const reply = get(newest.port);
      await until(() => newest.inFlight === 1, 2000);
      d.scale(1);
      expect(newest.phase).toBe('terminating');
      expect(d.readyPods().map((p) => p.name)).toEqual(['app-1']);
      d.scale(2);
      expect(d.replicas).toBe(2);
      const pending = d.pod('app-3')!;
      expect(pending.phase).toBe('pending');
      await reply;
      await until(() => pending.phase === 'ready', 2000);
      expect(pending.port).toBe(newest.port);
    } finally {
      await d.close();
    }
  });
});
